"""StreamFramer: split a TCP/TLS byte stream into SIP messages (sans-IO).

RFC 3261 §18.3: "In the case of stream-oriented transports such as TCP, the
Content-Length header field indicates the size of the body. All stream-oriented
transports MUST use Content-Length." A message without it cannot be framed, so
the framer raises and the connection must be closed.

RFC 3261 §7.5: "Implementations processing SIP messages over stream-oriented
transports MUST ignore any CRLF appearing before the start-line". RFC 5626
§3.5.1/§4.4.1: a CRLFCRLF "ping" between messages asks for a CRLF "pong"; the
framer absorbs both and counts the pings it saw (`pong_needed`), so the
transport can answer each one.

Input is never buffered forever: a header section over `max_header` octets or a
message over `max_message` raises ParseError(drop=True).
"""

from __future__ import annotations

import re

from .errors import ParseError

# Content-Length = ( "Content-Length" / "l" ) HCOLON 1*DIGIT, at the start of a header
# line, with LWS (folding included) allowed around the colon and the value.
_CONTENT_LENGTH_RE = re.compile(
    rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(?:\r\n[ \t]+)?([^\r\n]*)", re.IGNORECASE
)


class StreamFramer:
    """Feed bytes as they arrive; get back complete messages (head + body) as bytes."""

    def __init__(self, max_message: int = 65536, max_header: int = 16384) -> None:
        self.max_message = max_message
        self.max_header = max_header
        # CRLFCRLF pings seen and not yet answered (RFC 5626 §4.4.1)
        self.pong_needed = 0
        self._buffer = bytearray()
        self._scan_from = 0  # where the search for the blank line resumes
        self._body_end: int | None = None  # end of the current message once its head is in
        self._crlfs = 0  # CRLFs absorbed since the last message or ping
        self._error: ParseError | None = None

    @property
    def buffered(self) -> int:
        """Octets held for an incomplete message."""
        return len(self._buffer)

    def pongs_due(self) -> int:
        """How many CRLF pongs to send now; resets the count."""
        due, self.pong_needed = self.pong_needed, 0
        return due

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every message they complete, in order.

        Raises ParseError(drop=True) on a framing error; the stream is then unusable
        and every later call raises the same error.
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        out: list[bytes] = []
        try:
            while self._next(out):
                pass
        except ParseError as exc:
            self._error = exc
            self._buffer.clear()
            raise
        return out

    def _next(self, out: list[bytes]) -> bool:
        buf = self._buffer
        if self._body_end is None:
            if not self._skip_keepalives():
                return False
            end = buf.find(b"\r\n\r\n", self._scan_from)
            if end < 0:
                if len(buf) > self.max_header:
                    raise ParseError("header section too long", status_hint=513, drop=True)
                self._scan_from = max(0, len(buf) - 3)
                return False
            if end + 4 > self.max_header:
                raise ParseError("header section too long", status_hint=513, drop=True)
            length = _content_length(bytes(buf[:end]))
            self._body_end = end + 4 + length
            if self._body_end > self.max_message:
                raise ParseError("message too large", status_hint=513, drop=True)
        if len(buf) < self._body_end:
            return False
        out.append(bytes(buf[: self._body_end]))
        del buf[: self._body_end]
        self._body_end = None
        self._scan_from = 0
        return True

    def _skip_keepalives(self) -> bool:
        """Absorb CRLFs before a start line; False while only CRLFs (or a CR) are held."""
        buf = self._buffer
        i = 0
        n = len(buf)
        while i + 1 < n and buf[i] == 13 and buf[i + 1] == 10:
            i += 2
            self._crlfs += 1
            if self._crlfs == 2:
                # RFC 5626 §4.4.1: "When a server receives a double CRLF sequence between
                # SIP messages on a connection-oriented transport ... it MUST immediately
                # respond with a single CRLF".
                self.pong_needed += 1
                self._crlfs = 0
        if i:
            del buf[:i]
            self._scan_from = 0
        if not buf or (len(buf) == 1 and buf[0] == 13):
            return False
        self._crlfs = 0
        return True


def _content_length(head: bytes) -> int:
    values = {m.strip() for m in _CONTENT_LENGTH_RE.findall(head)}
    if not values:
        raise ParseError("no Content-Length on a stream transport", drop=True)
    if len(values) > 1:
        raise ParseError("conflicting Content-Length headers", drop=True)
    text = values.pop()
    if not text.isdigit() or len(text) > 10:
        raise ParseError(f"bad Content-Length {text[:20]!r}", drop=True)
    return int(text)
