"""bytes -> Request | Response for one datagram (or one frame of a stream).

Raises ParseError only: `status_hint` is the response to answer with, `drop`
says the message cannot be answered (RFC 3261 §18.3, RFC 4475 §3.1.2).
"""

from __future__ import annotations

from .errors import ParseError
from .message import COMPACT_FORMS, Message, Request, Response
from .uri import parse_uri

_TOKEN_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
)

# Headers every request must carry (RFC 3261 §8.1.1); Max-Forwards is checked by the TU.
_REQUIRED = ("via", "from", "to", "call-id", "cseq")


def parse_message(data: bytes) -> Request | Response:
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        raise ParseError("no blank line after the headers", drop=True)
    try:
        head = data[:head_end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("header section is not UTF-8", drop=True) from exc
    body = data[head_end + 4 :]
    lines = head.split("\r\n")
    start = lines[0]
    headers = _parse_headers(lines, 1)
    if start.startswith("SIP/"):
        message: Request | Response = _parse_status_line(start, headers)
    else:
        message = _parse_request_line(start, headers)
    message.body = _frame_body(message, body)
    _check_required(message)
    return message


def _parse_request_line(line: str, headers: list[tuple[str, str]]) -> Request:
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise ParseError(f"bad request line {line!r}")
    method, uri_text, version = parts
    if not method or any(c not in _TOKEN_CHARS for c in method):
        raise ParseError(f"bad method {method!r}")
    if version.upper() != "SIP/2.0":
        raise ParseError(f"unsupported SIP version {version!r}", status_hint=505)
    return Request(method, parse_uri(uri_text), headers)


def _parse_status_line(line: str, headers: list[tuple[str, str]]) -> Response:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version != "SIP/2.0" or len(code) != 3 or not code.isdigit() or not code.isascii():
        raise ParseError(f"bad status line {line!r}", drop=True)
    status = int(code)
    if not 100 <= status <= 699:
        raise ParseError(f"status {status} out of range", drop=True)
    return Response(status, reason, headers)


def _parse_headers(lines: list[str], first: int) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in lines[first:]:
        if not line:
            continue
        if line[0] in " \t":
            # RFC 3261 §7.3.1 line folding: a continuation line joins the previous value
            if not headers:
                raise ParseError("continuation line before any header")
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ParseError(f"header line without colon: {line[:40]!r}")
        name = name.rstrip(" \t").lower()
        if not name or any(c not in _TOKEN_CHARS for c in name):
            raise ParseError(f"bad header name {name[:40]!r}")
        headers.append((COMPACT_FORMS.get(name, name), value.strip(" \t")))
    return headers


def _frame_body(message: Message, body: bytes) -> bytes:
    values = message.get_all("content-length")
    if not values:
        return body
    if len(set(v.strip() for v in values)) > 1:
        raise ParseError("conflicting Content-Length headers")
    text = values[0].strip()
    if not text.isdigit() or not text.isascii():
        raise ParseError(f"bad Content-Length {text!r}")
    length = int(text)
    if length > len(body):
        # RFC 3261 §18.3: a datagram shorter than Content-Length is discarded (4475 §3.1.2.7)
        raise ParseError("Content-Length larger than the message body")
    return body[:length]


def _check_required(message: Message) -> None:
    for name in _REQUIRED:
        if not message.has(name):
            raise ParseError(f"missing {name} header", drop=isinstance(message, Response))
    try:
        message.vias
        cseq = message.cseq
        message.from_
        message.to
    except ParseError as exc:
        raise ParseError(exc.reason, drop=isinstance(message, Response)) from exc
    if isinstance(message, Request) and cseq.method != message.method:
        raise ParseError("CSeq method does not match the request method")
