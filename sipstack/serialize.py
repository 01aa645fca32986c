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


def wire_size(message: Message) -> int:
    """The length in bytes of `serialize(message)`, without building it (the §18.1.1
    size rule is checked on every request sent)."""
    if isinstance(message, Request):
        size = len(message.method) + _utf8_len(str(message.uri)) + 11  # " ", " SIP/2.0\r\n"
    elif isinstance(message, Response):
        size = len(str(message.status)) + _utf8_len(message.reason) + 11  # "SIP/2.0 ", " \r\n"
    else:
        raise TypeError(f"not a SIP message: {message!r}")
    for name, value in message.headers:
        if name != "content-length":
            size += len(name) + _utf8_len(value) + 4  # ": " and CRLF
    body = len(message.body)
    return size + 20 + len(str(body)) + body  # "Content-Length: " CRLF CRLF


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())
