"""Which headers a relayed in-dialog request or response carries from one leg to the other.

The switch is a B2BUA (RFC 3261 §6: "a logical entity that receives a request and
processes it as a user agent server ... it acts as a user agent client and generates
requests"): every message it relays is a new message of the other dialog, built by
`Dialog.create_request` or `make_response`. What the two parties say to each other end
to end is copied across; what belongs to one hop or one dialog is never copied, the
other dialog has its own. This table is the one place that decides it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sipstack.message import Request, Response

# name (lower-case, full form) -> why a B2BUA passes it to the other leg
END_TO_END: Mapping[str, str] = {
    # extensions: the far party's, not ours (RFC 3261 §8.2.2.3, §20.32, §20.37, §20.40)
    "require": "the option tags the sender needs the far party to support",
    "supported": "the option tags the sender supports (§20.37)",
    # §8.2.2.3: "The UAS MUST add an Unsupported header field" to its 420
    "unsupported": "the far party's 420 is meaningless without it",
    "retry-after": "when to try again, of a 491/503/486/600 (§14.1, §20.33)",
    "warning": "why the far party refused the session (§20.43), e.g. in a 488",
    # capabilities of the far party (§20.1, §20.5; a 405 'MUST' carry Allow, a 415 Accept)
    "accept": "the bodies the far party takes, a 415 lists them (§21.4.13)",
    "accept-encoding": "as Accept (§20.2)",
    "accept-language": "as Accept (§20.3)",
    "allow": "the methods the far party takes, a 405 lists them (§20.5)",
    "allow-events": "the event packages the far party takes (RFC 6665 §8.2.2)",
    "min-expires": "a 423's smallest expiry (§20.23)",
    # the body's own description travels with the body (§20.11, §20.12, §20.13)
    "content-disposition": "how to treat the body (session, render, early-session)",
    "content-encoding": "how the body is coded",
    "content-language": "the body's language",
    # what the request is about
    "subject": "§20.36",
    "event": "the event package of a NOTIFY or SUBSCRIBE (RFC 6665)",
    "subscription-state": "the state of a subscription of a NOTIFY (RFC 6665)",
    "refer-to": "the transfer target of a REFER (RFC 3515)",
    "referred-by": "who asked for the transfer (RFC 3892)",
    "reason": "why the request was sent, e.g. a CANCEL's or BYE's cause (RFC 3326)",
}
# Never passed, each leg's dialog or hop has its own: Via, Route, Record-Route, Contact
# (rewritten to ours, so in-dialog requests come through the switch; a 3xx's Contact is
# the exception, it is the redirect target, §21.3), To, From, Call-ID, CSeq,
# Max-Forwards (decremented by the caller), Content-Length and Content-Type (set with the
# body), Authorization, Proxy-Authorization, Proxy-Authenticate, WWW-Authenticate,
# Proxy-Require (each hop's credentials and challenges), RSeq/RAck (per dialog),
# Session-Expires and Min-SE (each leg negotiates its own session timer with the switch,
# RFC 4028; `calls/session_timer.py`), and anything unknown. The option tag `timer` is
# taken out of a copied Require or Supported for the same reason.
PER_LEG_OPTION_TAGS = frozenset({"timer"})


def copy_end_to_end(source: Request | Response, target: Request | Response) -> None:
    """Add to `target` every header of `source` that passes to the other leg, in order."""
    redirect = isinstance(source, Response) and 300 <= source.status < 400
    for name, value in source.headers:
        if name in ("require", "supported"):
            value = _without_per_leg_tags(value)
            if not value:
                continue
        if name in END_TO_END or (redirect and name == "contact"):
            target.add(name, value)


def _without_per_leg_tags(value: str) -> str:
    tags = (tag.strip() for tag in value.split(","))
    return ", ".join(t for t in tags if t and t.lower() not in PER_LEG_OPTION_TAGS)
