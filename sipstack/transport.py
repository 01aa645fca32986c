"""Transports, addresses and the pure transport-layer rules (RFC 3261 §18, RFC 3581)."""

from __future__ import annotations

import enum

import msgspec

from .header_values import Via

Address = tuple[str, int]


class Transport(enum.Enum):
    UDP = "UDP"
    TCP = "TCP"

    @property
    def reliable(self) -> bool:
        return self is not Transport.UDP


class Datagram(msgspec.Struct, frozen=True, gc=False):
    """Bytes to put on the wire: over UDP a datagram, over TCP a write on the connection."""

    data: bytes
    destination: Address
    transport: Transport


# -- Via stamping and response routing (appended by the transaction layer) ------------

DEFAULT_PORT = 5060


def unbracket(host: str) -> str:
    """An IPv6 reference `[::1]` as the bare address `::1` used in `Address`."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def bracket(host: str) -> str:
    """A bare IPv6 address as the `[::1]` reference used in Via and URIs."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def transport_of(via_transport: str) -> Transport:
    """The Transport named in a Via sent-protocol, a binding or a config entry (any case);
    unknown ones read as UDP."""
    try:
        return Transport(via_transport.upper())
    except ValueError:
        return Transport.UDP


def stamp_via(via: Via, source: Address) -> Via | None:
    """The top Via as the server transport must rewrite it, or None when unchanged.

    RFC 3261 §18.2.1: "When the server transport receives a request over any
    transport, it MUST examine the value of the "sent-by" parameter in the top
    Via header field value. If the host portion of the "sent-by" parameter
    contains a domain name, or if it contains an IP address that differs from
    the packet source address, the server MUST add a "received" parameter".
    RFC 3581 §4: "When a server compliant to this specification ... receives a
    request, it examines the topmost Via header field value. If this Via header
    field value contains an "rport" parameter with no value, it MUST set the
    value of the parameter to the source port of the request."  and: "the server
    MUST insert a "received" parameter containing the source IP address ... even
    if it is identical to the value of the "sent-by" component."
    """
    ip, port = source
    wants_rport = via.rport == ""
    if not wants_rport and unbracket(via.host).lower() == ip.lower():
        return None
    params: list[tuple[str, str | None]] = []
    for key, value in via.params:
        low = key.lower()
        if low == "received":
            continue
        if low == "rport" and wants_rport:
            params.append((key, str(port)))
            continue
        params.append((key, value))
    params.append(("received", ip))
    return via.with_params(tuple(params))


def response_destination(via: Via, source: Address | None, transport: Transport) -> Address:
    """Where a response goes (RFC 3261 §18.2.2 with RFC 3581 §4).

    §18.2.2: "If the "sent-protocol" is a reliable transport protocol such as
    TCP or SCTP ... the response MUST be sent using the existing connection to
    the source of the original request".  "Otherwise, if the Via header field
    value contains a "maddr" parameter, the response MUST be forwarded to the
    address listed there".  "Otherwise (for unreliable unicast transports), if
    the top Via has a "received" parameter, the response MUST be sent to the
    address in the "received" parameter, using the port indicated in the
    "sent-by" value, or using port 5060 if none is specified explicitly."
    RFC 3581 §4: "the server MUST send the response to the IP address listed in
    the "received" parameter, and the port in the "rport" parameter."
    "Otherwise, ... the response MUST be sent to the address indicated by the
    "sent-by" value".
    """
    if transport.reliable and source is not None:
        return source
    maddr = _param(via, "maddr")
    port = via.port if via.port is not None else DEFAULT_PORT
    if maddr:
        return (unbracket(maddr), port)
    received = via.received
    rport = via.rport
    if rport and rport.isdigit():
        port = int(rport)
    if received:
        return (unbracket(received), port)
    return (unbracket(via.host), port)


def _param(via: Via, name: str) -> str | None:
    for key, value in via.params:
        if key.lower() == name:
            return "" if value is None else value
    return None
