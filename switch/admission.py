"""What a request must satisfy before the switch acts on it, and whose it is.

Shared by the dispatcher (core.py), the registrar, the call router and message
waiting, so each rule lives once: which Require option tags we support (RFC 3261
§8.2.2.3) and which customer (tenant) a phone's request belongs to.
"""

from __future__ import annotations

from sipstack.message import Request
from sipstack.uri import SipUri

from .directory import Customer, Directory

# Only what is built end to end. RFC 3261 §8.2.2.3: "If a UAS does not understand an
# option-tag listed in a Require header field, it MUST respond by generating a
# response with status code 420 (Bad Extension)" and list it in Unsupported. Accepting
# `replaces` or `path` without carrying them out would break transfers and proxies
# silently; they are added here with the features that implement them.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({"timer"})  # RFC 4028, calls/session_timer.py


def unsupported_requires(request: Request) -> list[str]:
    """Option tags in Require that we do not support (RFC 3261 §8.2.2.3 -> 420).

    Checked for every request but ACK and CANCEL (§8.2.2.3: they cannot be refused)."""
    return [tag for tag in request.values("require") if tag.lower() not in SUPPORTED_EXTENSIONS]


def supported_header() -> str | None:
    """The Supported header value we advertise (RFC 3261 §20.37), None when empty."""
    return ", ".join(sorted(SUPPORTED_EXTENSIONS)) or None


def customer_of(
    directory: Directory, request: Request, *, to_first: bool = False
) -> Customer | None:
    """The customer a phone's request belongs to: the first of its From, To and
    Request-URI hosts that is a customer's domain (docs/BEHAVIOUR.md#tenancy: "whose domain is
    in its From/To URI"). Phones that put an IP address there (pyVoIP names its own address
    in From and the server's in To) still find the only customer of a single-tenant switch
    (docs/PRODUCT.md, complaint 9); with several customers they must send a domain."""
    uris = [request.to.uri, request.from_.uri] if to_first else [request.from_.uri, request.to.uri]
    for uri in (*uris, request.uri):
        if isinstance(uri, SipUri):
            found = directory.customer_by_domain(uri.host)
            if found is not None:
                return found
    customers = directory.customers
    return customers[0] if len(customers) == 1 else None
