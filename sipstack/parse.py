"""bytes -> Request | Response for one datagram (or one frame of a stream).

Raises ParseError only: `status_hint` is the response to answer with, `drop`
says the message cannot be answered (RFC 3261 §18.3, RFC 4475 §3.1.2).

What is answerable:
- a response that does not parse is always dropped: there is nobody to answer
  (RFC 4475 §3.1.2.5, §3.1.2.19);
- a request whose top Via cannot be parsed (or that has no Via) is dropped: a
  response could not be routed back (RFC 3261 §18.2.2);
- a request with an unsupported SIP version gets 505 (RFC 3261 §21.5.6,
  RFC 4475 §3.1.2.16);
- anything else malformed in a request gets 400 with a reason naming the header,
  and the error carries the header list so the caller can build that response.

Typed values are parsed lazily by `Message`; this module parses eagerly only
what every layer needs to route or answer (Via, CSeq, From, To, Call-ID and, on
requests, Contact), and the results stay cached on the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from .errors import ParseError
from .grammar import SIP_VERSION_RE, TOKEN_CHARS, is_token
from .header_values import _parse_via, split_outside_quotes
from .message import COMPACT_FORMS, Message, Request, Response, display_name
from .uri import SipUri, Uri, parse_uri

Headers = list[tuple[str, str]]

# Headers every request must carry (RFC 3261 §8.1.1); Max-Forwards is checked by the TU
# (RFC 2543 peers omit it, RFC 4475 §3.4.1).
_REQUIRED = ("from", "to", "call-id", "cseq")

# RFC 3261 §7.3.1: "Multiple header field rows with the same field-name MAY be present in a
# message if and only if the entire field-value for that header field is defined as a
# comma-separated list". These are not (RFC 4475 §3.3.8).
_SINGLE = frozenset(
    {"call-id", "from", "to", "cseq", "max-forwards", "date", "content-type", "expires"}
)

# Raw header name as received (before the colon) -> canonical lower-case full name.
_NAME_CACHE: dict[str, str] = {}
_NAME_CACHE_MAX = 4096


def parse_message(data: bytes) -> Request | Response:
    """Parse one complete message; raise ParseError (only) when it is unacceptable."""
    start_at = 0
    # RFC 3261 §7.5: "Implementations processing SIP messages over stream-oriented
    # transports MUST ignore any CRLF appearing before the start-line".
    while data.startswith(b"\r\n", start_at):
        start_at += 2
    head_end = data.find(b"\r\n\r\n", start_at)
    body_at = head_end + 4
    if head_end < 0:
        if not data.endswith(b"\r\n") or len(data) - start_at < 4:
            raise ParseError("no blank line after the headers", drop=True)
        # A datagram ends the message (RFC 3261 §18.3: "the message is the whole
        # datagram"); the RFC 4475 archive prints §3.1.2.15 without the empty line, and
        # peers that forget it are read as having no body rather than dropped.
        head_end = body_at = len(data) - 2
    raw_head = data[start_at:head_end]
    pending: ParseError | None = None
    try:
        head = raw_head.decode("utf-8")
    except UnicodeDecodeError:
        # RFC 3261 §7.3.1 says TEXT-UTF8, but Latin-1 display names and subjects are
        # common in the field; every byte is a Latin-1 character, so the message is read
        # (the structure SIP needs is ASCII either way) rather than refused or dropped.
        head = raw_head.decode("latin-1")
    lines = head.split("\r\n")
    breaks = len(lines) - 1
    if head.count("\n") != breaks or head.count("\r") != breaks:
        # CRLF is the only line end (RFC 3261 §7); a bare CR or LF is not LWS
        pending = pending or ParseError("bare CR or LF in the header section")
    start = lines[0]
    body = data[body_at:]
    if start[:4].upper() == "SIP/":
        return _parse_response(start, lines, body, pending)
    return _parse_request(start, lines, body, pending)


# -- responses -------------------------------------------------------------------------


def _parse_response(
    start: str, lines: list[str], body: bytes, pending: ParseError | None
) -> Response:
    try:
        headers, error = _split_headers(lines)
        if pending is not None or error is not None:
            raise pending or error  # type: ignore[misc]
        response = _parse_status_line(start, headers)
        response.body = _frame_body(response, body)
        _validate_common(response)
    except ParseError as exc:
        # RFC 3261 §18.1.2 + RFC 4475 §3.1.2.5/§3.1.2.19: a response that cannot be parsed
        # cannot be answered; it is discarded.
        raise ParseError(exc.reason, exc.status_hint, drop=True) from None
    return response


def _parse_status_line(line: str, headers: Headers) -> Response:
    # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
    version, _, rest = line.partition(" ")
    code = rest[:3]
    if version.upper() != "SIP/2.0":
        raise ParseError(f"unsupported SIP version in {line[:60]!r}", status_hint=505)
    if len(code) != 3 or not code.isdigit() or not code.isascii() or rest[3:4] not in ("", " "):
        raise ParseError(f"bad status line {line[:60]!r}")
    status = int(code)
    # Status-Code = 3DIGIT, the first digit 1-6 (RFC 3261 §7.2)
    if not 100 <= status <= 699:
        raise ParseError(f"status {status} out of range")
    # RFC 4475 §3.1.1.13: the Reason-Phrase may be empty
    return Response(status, rest[4:], headers)


# -- requests --------------------------------------------------------------------------


def _parse_request(
    start: str, lines: list[str], body: bytes, pending: ParseError | None
) -> Request:
    headers, error = _split_headers(lines)
    try:
        method, uri = _parse_request_line(start)
    except ParseError as exc:
        if exc.status_hint == 505 and _top_via_ok(headers, any_version=True):
            # "SIP/7.0" in the Request-Line: answer 505 (RFC 4475 §3.1.2.16) even though
            # the Via then carries the same unknown version.
            raise ParseError(exc.reason, 505, headers=headers) from None
        _fail(exc, headers)
    if pending is not None or error is not None:
        _fail(pending or error, headers)  # type: ignore[arg-type]
    request = Request(method, uri, headers)
    try:
        request.body = _frame_body(request, body)
        _validate_common(request)
        _validate_request(request)
    except ParseError as exc:
        _fail(exc, headers)
    return request


def _fail(exc: ParseError, headers: Headers) -> NoReturn:
    """Raise `exc` as answerable (400 + headers) or as drop when no Via can route it."""
    if not _top_via_ok(headers, any_version=False):
        # RFC 3261 §18.2.2: responses go where the top Via says; without one, drop.
        raise ParseError(f"{exc.reason} (and no usable Via)", exc.status_hint, drop=True) from None
    raise ParseError(exc.reason, exc.status_hint, headers=headers) from None


def _top_via_ok(headers: Headers, any_version: bool) -> bool:
    for name, value in headers:
        if name == "via":
            try:
                _parse_via(split_outside_quotes(value, ",")[0], any_version)
            except ParseError:
                return False
            return True
    return False


def _parse_request_line(line: str) -> tuple[str, Uri]:
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF: exactly one SP between
    # elements and none at the end (RFC 4475 §3.1.2.8, §3.1.2.9, §3.1.2.10).
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise ParseError(f"bad Request-Line {line[:80]!r}")
    method, uri_text, version = parts
    if not TOKEN_CHARS.issuperset(method):
        raise ParseError(f"bad method in Request-Line {method[:40]!r}")
    if version.upper() != "SIP/2.0":
        if SIP_VERSION_RE.match(version):
            # RFC 3261 §21.5.6 505 Version Not Supported
            raise ParseError(f"unsupported SIP version {version[:20]!r}", status_hint=505)
        raise ParseError(f"bad SIP version in Request-Line {version[:20]!r}")
    try:
        uri = parse_uri(uri_text)
    except ParseError as exc:
        raise ParseError(f"bad Request-URI: {exc.reason}") from None
    if isinstance(uri, SipUri) and uri.headers:
        # RFC 3261 §19.1.1 table: the headers component is not allowed in a Request-URI
        # (RFC 4475 §3.1.2.11: reject rather than act on escaped headers).
        raise ParseError("headers are not allowed in the Request-URI")
    return method, uri


def _validate_request(request: Request) -> None:
    cseq = request.cseq
    if cseq.method != request.method:
        # RFC 3261 §8.1.1.5: the CSeq method MUST match the request method
        # (RFC 4475 §3.1.2.17, §3.1.2.18)
        raise ParseError(f"CSeq method {cseq.method[:40]!r} does not match the request method")
    _typed(request, "contact")
    max_forwards = request.get("max-forwards")
    if max_forwards is not None:
        # Max-Forwards = 1*DIGIT; the 0-255 range is the TU's check (RFC 4475 §3.1.2.4)
        text = max_forwards.strip()
        if not text.isdigit() or not text.isascii():
            raise ParseError(f"bad Max-Forwards header {text[:20]!r}")


# -- both ------------------------------------------------------------------------------


def _validate_common(message: Message) -> None:
    seen: set[str] = set()
    has_via = False
    for name, _ in message.headers:
        if name in _SINGLE:
            if name in seen:
                raise ParseError(f"more than one {display_name(name)} header")
            seen.add(name)
        elif name == "via":
            has_via = True
    if not has_via:
        raise ParseError("missing Via header")
    for name in _REQUIRED:
        if name not in seen:
            raise ParseError(f"missing {display_name(name)} header")
    call_id = message.call_id
    # Call-ID = callid; callid = word [ "@" word ]
    if not call_id or " " in call_id or "\t" in call_id:
        raise ParseError(f"bad Call-ID header {call_id[:60]!r}")
    for name in ("via", "cseq", "from", "to"):
        _typed(message, name)


_ACCESSORS: dict[str, Callable[[Message], object]] = {
    "via": lambda m: m.vias,
    "cseq": lambda m: m.cseq,
    "from": lambda m: m.from_,
    "to": lambda m: m.to,
    "contact": lambda m: m.contacts,
}


def _typed(message: Message, name: str) -> None:
    """Parse a typed header now (cached on the message), naming it in the error."""
    try:
        _ACCESSORS[name](message)
    except ParseError as exc:
        raise ParseError(f"bad {display_name(name)} header: {exc.reason}") from None


def _split_headers(lines: list[str]) -> tuple[Headers, ParseError | None]:
    """Header lines -> (name, value) pairs, folding continuation lines.

    Keeps going past a bad line so the Via can still be found; returns the first error.
    """
    headers: Headers = []
    error: ParseError | None = None
    cache = _NAME_CACHE
    for i in range(1, len(lines)):
        line = lines[i]
        if not line:
            continue
        if line[0] == " " or line[0] == "\t":
            # RFC 3261 §7.3.1: "Header fields can be extended over multiple lines by
            # preceding each extra line with at least one SP or horizontal tab" and the
            # LWS is equivalent to a single SP (RFC 4475 §3.1.1.1).
            if not headers:
                error = error or ParseError("continuation line before any header")
                continue
            name, value = headers[-1]
            extra = line.strip(" \t")
            headers[-1] = (name, f"{value} {extra}" if value else extra)
            continue
        raw, colon, value = line.partition(":")
        if not colon:
            error = error or ParseError(f"header line without colon: {line[:40]!r}")
            continue
        known = cache.get(raw)
        if known is None:
            # header-name = token; HCOLON = *( SP / HTAB ) ":" SWS
            stripped = raw.rstrip(" \t")
            if not is_token(stripped):
                error = error or ParseError(f"bad header name {stripped[:40]!r}")
                continue
            low = stripped.lower()
            known = COMPACT_FORMS.get(low, low)
            if len(cache) < _NAME_CACHE_MAX:
                cache[raw] = known
        headers.append((known, value.strip(" \t")))
    return headers, error


def _frame_body(message: Message, body: bytes) -> bytes:
    values = message.get_all("content-length")
    if not values:
        # RFC 3261 §18.3: over UDP without Content-Length the body runs to the datagram end
        return body
    text = values[0].strip()
    for other in values[1:]:
        if other.strip() != text:
            # RFC 4475 §3.3.9: no way to know how many octets are meant
            raise ParseError("conflicting Content-Length headers")
    # Content-Length = 1*DIGIT (RFC 4475 §3.1.2.3: a negative value is an error)
    if not text.isdigit() or not text.isascii() or len(text) > 10:
        raise ParseError(f"bad Content-Length header {text[:20]!r}")
    length = int(text)
    if length > len(body):
        # RFC 3261 §18.3: "If the transport packet ends before the end of the message
        # body, this is considered an error" and a request gets 400 (RFC 4475 §3.1.2.2).
        raise ParseError(f"Content-Length {length} larger than the message body")
    # RFC 3261 §18.3: octets after Content-Length are discarded (RFC 4475 §3.1.1.8)
    return body if length == len(body) else body[:length]
