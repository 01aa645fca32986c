"""Request | Response -> bytes. Content-Length is always computed from the body."""

from __future__ import annotations

from .message import Message, Request, Response, display_name


def serialize(message: Message) -> bytes:
    if isinstance(message, Request):
        start = f"{message.method} {message.uri} SIP/2.0\r\n"
    elif isinstance(message, Response):
        start = f"SIP/2.0 {message.status} {message.reason}\r\n"
    else:
        raise TypeError(f"not a SIP message: {message!r}")
    # RFC 3261 §7.3.1: header lines "field-name: field-value CRLF"; Content-Length is
    # recomputed so the framing always matches the body (§18.3, §20.14).
    lines = [start]
    for name, value in message.headers:
        if name != "content-length":
            lines.append(f"{display_name(name)}: {value}\r\n")
    lines.append(f"Content-Length: {len(message.body)}\r\n\r\n")
    return "".join(lines).encode() + message.body
