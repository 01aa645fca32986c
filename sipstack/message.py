"""SIP requests and responses.

Headers are kept as an ordered list of (lower-case full name, value) pairs: the
start line and header lines are split eagerly, typed values (Via, CSeq, From...)
are parsed on first access and cached (sippy's `parsed` flag, Kamailio's
`parse_headers`). Messages are mutable while a layer builds them; once handed to
another layer they are treated as values and not changed in place.
"""

from __future__ import annotations

from typing import Any

from .errors import ParseError
from .header_values import (
    CSeq,
    NameAddr,
    Via,
    parse_cseq,
    parse_name_addr,
    parse_name_addr_list,
    parse_via_list,
    remember_via,
    split_outside_quotes,
)
from .uri import Uri

# RFC 3261 §7.3.3 and the IANA registry: compact form -> full name.
COMPACT_FORMS: dict[str, str] = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "r": "refer-to",
    "b": "referred-by",
    "u": "allow-events",
    "x": "session-expires",
    "y": "identity",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
}

_SPECIAL_CASE = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rack": "RAck",
    "rseq": "RSeq",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
}

# Headers whose value may not be split at commas (they contain commas of their own).
UNSPLITTABLE = frozenset(
    {
        "www-authenticate",
        "authorization",
        "proxy-authenticate",
        "proxy-authorization",
        "date",
        "retry-after",
        "subject",
        "user-agent",
        "server",
        "organization",
        "warning",
        "timestamp",
        "call-id",
        "cseq",
        "content-length",
        "content-type",
        "from",
        "to",
        "max-forwards",
        "expires",
        "min-expires",
        "reason",
        "authentication-info",
    }
)

_display_cache: dict[str, str] = {}


def display_name(name: str) -> str:
    """Canonical capitalisation of a lower-case header name for the wire."""
    shown = _display_cache.get(name)
    if shown is None:
        shown = _SPECIAL_CASE.get(name) or "-".join(p.capitalize() for p in name.split("-"))
        _display_cache[name] = shown
    return shown


class Message:
    __slots__ = ("headers", "body", "_cache")

    def __init__(self, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> None:
        self.headers: list[tuple[str, str]] = headers if headers is not None else []
        self.body = body
        self._cache: dict[str, Any] = {}

    # -- raw access -------------------------------------------------------------
    def get(self, name: str) -> str | None:
        """First value of header `name` (lower-case full name), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every header line of `name`, not split at commas."""
        return [value for key, value in self.headers if key == name]

    def values(self, name: str) -> list[str]:
        """Every element of a list header, comma-joined lines split (RFC 3261 §7.3.1)."""
        out: list[str] = []
        for key, value in self.headers:
            if key == name:
                out.extend(p.strip() for p in split_outside_quotes(value, ",") if p.strip())
        return out

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.headers)

    def set(self, name: str, value: str) -> None:
        """Replace every `name` header by one, at the position of the first."""
        self._cache.pop(name, None)
        for i, (key, _) in enumerate(self.headers):
            if key == name:
                self.headers[i] = (name, value)
                self.headers[i + 1 :] = [h for h in self.headers[i + 1 :] if h[0] != name]
                return
        self.headers.append((name, value))

    def add(self, name: str, value: str) -> None:
        self._cache.pop(name, None)
        self.headers.append((name, value))

    def prepend(self, name: str, value: str) -> None:
        """Insert before the first header of that name (or at the top)."""
        self._cache.pop(name, None)
        for i, (key, _) in enumerate(self.headers):
            if key == name:
                self.headers.insert(i, (name, value))
                return
        self.headers.insert(0, (name, value))

    def remove(self, name: str) -> None:
        self._cache.pop(name, None)
        self.headers = [h for h in self.headers if h[0] != name]

    def remove_first(self, name: str) -> None:
        self._cache.pop(name, None)
        for i, (key, _) in enumerate(self.headers):
            if key == name:
                del self.headers[i]
                return

    def replace_top_via(self, via: Via) -> None:
        """Rewrite the first Via value (it may share a line with others), keeping the
        parsed Via list cached: the server transport stamps received/rport on every
        request (RFC 3261 §18.2.1), and re-parsing the Vias after it is pure waste."""
        vias = self.vias
        text = str(via)
        remember_via(text, via)
        for i, (key, value) in enumerate(self.headers):
            if key == "via":
                parts = split_outside_quotes(value, ",")
                rest = [p.strip() for p in parts[1:] if p.strip()]
                self.headers[i] = ("via", ", ".join([text, *rest]))
                break
        vias[0] = via

    # -- typed access (parsed on first use, cached) -------------------------------
    def _required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise ParseError(f"missing {display_name(name)} header")
        return value

    @property
    def vias(self) -> list[Via]:
        cached = self._cache.get("via")
        if cached is None:
            cached = []
            for key, value in self.headers:
                if key == "via":
                    cached.extend(parse_via_list(value))
            if not cached:
                raise ParseError("missing Via header")
            self._cache["via"] = cached
        return cached

    @property
    def top_via(self) -> Via:
        return self.vias[0]

    @property
    def call_id(self) -> str:
        return self._required("call-id").strip()

    @property
    def cseq(self) -> CSeq:
        cached = self._cache.get("cseq")
        if cached is None:
            cached = self._cache["cseq"] = parse_cseq(self._required("cseq"))
        return cached

    @property
    def from_(self) -> NameAddr:
        cached = self._cache.get("from")
        if cached is None:
            cached = self._cache["from"] = parse_name_addr(self._required("from"))
        return cached

    @property
    def to(self) -> NameAddr:
        cached = self._cache.get("to")
        if cached is None:
            cached = self._cache["to"] = parse_name_addr(self._required("to"))
        return cached

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact addresses; empty for `Contact: *` (see `is_wildcard_contact`)."""
        cached = self._cache.get("contact")
        if cached is None:
            cached = []
            for value in self.get_all("contact"):
                if value.strip() != "*":
                    cached.extend(parse_name_addr_list(value))
            self._cache["contact"] = cached
        return cached

    @property
    def is_wildcard_contact(self) -> bool:
        return any(v.strip() == "*" for v in self.get_all("contact"))

    @property
    def routes(self) -> list[NameAddr]:
        return [a for v in self.get_all("route") for a in parse_name_addr_list(v)]

    @property
    def record_routes(self) -> list[NameAddr]:
        return [a for v in self.get_all("record-route") for a in parse_name_addr_list(v)]

    @property
    def max_forwards(self) -> int | None:
        value = self.get("max-forwards")
        if value is None:
            return None
        value = value.strip()
        # Max-Forwards = 1*DIGIT; RFC 3261 §20.22: "an integer in the range 0-255"
        # (leading zeros are fine: "0068" in RFC 4475 §3.1.1.1; 300 is an error, §3.1.2.4)
        digits = value.lstrip("0") or "0"
        if not value.isdigit() or not value.isascii() or len(digits) > 3 or int(digits) > 255:
            raise ParseError(f"bad Max-Forwards {value[:20]!r}")
        return int(value)

    @property
    def expires(self) -> int | None:
        value = self.get("expires")
        if value is None:
            return None
        value = value.strip()
        # RFC 3261 §20.19: "Malformed values SHOULD be treated as equivalent to 3600";
        # that is the caller's choice, so a malformed value raises here (the parser lets
        # it through). Overlarge values are capped at 2**32-1 (RFC 4475 §3.1.2.4).
        if not value.isdigit() or not value.isascii():
            raise ParseError(f"bad Expires {value[:20]!r}")
        if len(value) > 10:
            return 2**32 - 1
        return min(int(value), 2**32 - 1)

    @property
    def content_type(self) -> str | None:
        value = self.get("content-type")
        return value.split(";", 1)[0].strip().lower() if value is not None else None


class Request(Message):
    __slots__ = ("method", "uri")

    def __init__(
        self,
        method: str,
        uri: Uri,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri = uri

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


class Response(Message):
    __slots__ = ("status", "reason")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = reason

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
}


# Requests whose 1xx (with a To tag) and 2xx create a dialog (RFC 3261 §12.1; RFC 6665
# §4.1.2.2 for SUBSCRIBE; RFC 3515 §2.4.4 for REFER).
DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER"})


def make_response(
    request: Request, status: int, reason: str | None = None, to_tag: str | None = None
) -> Response:
    """A response to `request` per RFC 3261 §8.2.6.2: Via, From, To, Call-ID, CSeq copied.

    A response that establishes a dialog also carries the request's Record-Route, in
    order (§12.1.1: "the UAS MUST copy all Record-Route header field values from the
    request into the response"), so an SBC or proxy that record-routes stays on the path
    of the ACK, BYE and re-INVITE."""
    headers: list[tuple[str, str]] = []
    to_value = None
    forms_dialog = (
        100 < status < 300
        and request.method in DIALOG_CREATING
        and request.to.tag is None
    )
    for key, value in request.headers:
        if key in ("via", "from", "call-id", "cseq") or (forms_dialog and key == "record-route"):
            headers.append((key, value))
        elif key == "to" and to_value is None:
            to_value = value
            # "the UAS MUST add a tag to the To header field in the response" unless 100
            if to_tag is not None and status != 100 and request.to.tag is None:
                value = f"{value};tag={to_tag}"
            headers.append((key, value))
    if request.method == "INVITE" and status == 100:
        # RFC 3261 §8.2.6.1: Timestamp is copied into 100 Trying
        stamp = request.get("timestamp")
        if stamp is not None:
            headers.append(("timestamp", stamp))
    return Response(status, reason or REASON_PHRASES.get(status, "Unknown"), headers)


def make_error_response(error: ParseError, reason: str | None = None) -> Response | None:
    """The `status_hint` response to a request `parse_message` rejected, or None (drop).

    RFC 3261 §8.2.6.2: Via, From, To, Call-ID and CSeq are copied from the request; the
    reason phrase defaults to the error's reason, which names the problem.
    """
    if error.drop or error.headers is None:
        return None
    headers = [(k, v) for k, v in error.headers if k in _COPIED]
    return Response(error.status_hint, reason or error.reason, headers)


_COPIED = frozenset({"via", "from", "to", "call-id", "cseq"})
