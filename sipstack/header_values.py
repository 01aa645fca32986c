"""Typed header values (RFC 3261 §20, §25) and their parsers.

Parsers are called lazily by `Message` accessors; each raises only ParseError.
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from .errors import ParseError
from .grammar import TOKEN_CHARS, VIA_RE, is_token
from .uri import Params, Uri, format_params, param_value, parse_host_port, parse_uri


def _segment_re(sep: str) -> re.Pattern[str]:
    # quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE; a "<...>" URI is opaque
    other = '[^"<' + re.escape(sep) + "]"
    return re.compile(r'(?:"(?:[^"\\]|\\.)*"|<[^>]*>|' + other + ")*", re.S)


_SEGMENT_RE: dict[str, re.Pattern[str]] = {",": _segment_re(","), ";": _segment_re(";")}


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split on `sep` where it is not inside a quoted string or <...> (RFC 3261 §7.3.1)."""
    if sep not in text:
        if '"' in text:
            _segments(text, sep)  # still reject an unterminated quoted string
        return [text]
    if '"' not in text and "<" not in text:
        return text.split(sep)
    return _segments(text, sep)


def _segments(text: str, sep: str) -> list[str]:
    pattern = _SEGMENT_RE.get(sep)
    if pattern is None:
        pattern = _SEGMENT_RE.setdefault(sep, _segment_re(sep))
    parts: list[str] = []
    pos = 0
    n = len(text)
    while True:
        end = pattern.match(text, pos).end()  # type: ignore[union-attr]  # matches ""
        if end < n and text[end] != sep:
            if text[end] == '"':
                raise ParseError("unterminated quoted string")
            # an unterminated "<": the rest is one element
            parts.append(text[pos:])
            return parts
        parts.append(text[pos:end])
        if end >= n:
            return parts
        pos = end + 1


_BAD_VALUE = frozenset(' \t"<>,')


def parse_params(text: str) -> Params:
    """`;a=b;c` → (('a','b'),('c',None)); values may be quoted strings (kept quoted).

    generic-param = token [ EQUAL gen-value ]; gen-value = token / host / quoted-string.
    Empty parameters (";;") are skipped, as many deployed stacks emit a trailing ";".
    """
    out: list[tuple[str, str | None]] = []
    for part in split_outside_quotes(text, ";"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.rstrip()
        if not is_token(key):
            raise ParseError(f"bad parameter {part[:60]!r}")
        if eq:
            value = value.lstrip()
            if value[:1] == '"':
                _check_quoted(value)
            elif not value or not _BAD_VALUE.isdisjoint(value):
                raise ParseError(f"bad parameter value {part[:60]!r}")
            out.append((key, value))
        else:
            out.append((key, None))
    return tuple(out)


def _quoted_end(text: str, start: int) -> int:
    """Index of the DQUOTE closing the quoted-string opening at `start` (RFC 3261 §25.1)."""
    i = start + 1
    while True:
        quote = text.find('"', i)
        if quote < 0:
            raise ParseError(f"unterminated quoted string {text[start : start + 60]!r}")
        backslash = text.find("\\", i, quote)
        if backslash < 0:
            return quote
        # quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): skip the escaped character
        if text[backslash + 1] in "\r\n":
            raise ParseError(f"bad quoted-pair in {text[start : start + 60]!r}")
        i = backslash + 2


def _check_quoted(value: str) -> None:
    """Raise unless `value` is exactly one quoted-string."""
    if _quoted_end(value, 0) != len(value) - 1:
        raise ParseError(f"text after quoted string {value[:60]!r}")


def unquote_string(value: str) -> str:
    """Remove the quotes and backslash escapes of a quoted-string (RFC 3261 §25.1)."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    out = []
    i = 0
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner):
            i += 1
        out.append(inner[i])
        i += 1
    return "".join(out)


_NEEDS_ESCAPE = frozenset('"\\') | frozenset(chr(c) for c in (*range(0x20), 0x7F))


def quote_string(value: str) -> str:
    """Make a quoted-string: `"` and `\\` and control characters become quoted-pairs.

    quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F): CR and LF cannot be represented
    at all, so they are replaced by a space (never a header injection).
    """
    if _NEEDS_ESCAPE.isdisjoint(value):
        return '"' + value + '"'
    out = ['"']
    for c in value:
        if c in "\r\n":
            out.append(" ")
        elif c in _NEEDS_ESCAPE and c != "\t":
            out.append("\\" + c)
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


class Via(msgspec.Struct, frozen=True, gc=False):
    """One via-parm: SIP/2.0/<transport> host[:port] *(;param)."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()

    @property
    def branch(self) -> str | None:
        return param_value(self.params, "branch")

    @property
    def received(self) -> str | None:
        return param_value(self.params, "received")

    @property
    def rport(self) -> str | None:
        """'' when the client asked for rport (RFC 3581), the port once filled, else None."""
        return param_value(self.params, "rport")

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return (self.host.lower(), self.port)

    def with_params(self, params: Params) -> Via:
        return msgspec.structs.replace(self, params=params)

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"


# Parsed values are frozen, so one parse can serve every message that repeats the same
# text: a dialog's From/To/Contact and a transaction's Via and CSeq come back on every
# message of it. A bounded cache per kind (cleared when full) keeps the hot path from
# parsing the same strings again and again.
_CACHE_MAX = 8192
_V = TypeVar("_V")
_via_cache: dict[str, Via] = {}
_addr_cache: dict[str, NameAddr] = {}
_cseq_cache: dict[str, CSeq] = {}


def parse_via(text: str) -> Via:
    """One via-parm; LWS is allowed around "/" and ":" (RFC 4475 §3.1.1.1)."""
    via = _via_cache.get(text)
    if via is None:
        via = _remember(_via_cache, text, _parse_via(text, any_version=False))
    return via


def remember_via(text: str, via: Via) -> None:
    """Teach the cache a Via we wrote ourselves (the stamped top Via of a request), so the
    responses that copy its text find it parsed already."""
    _remember(_via_cache, text, via)


def _remember(cache: dict[str, _V], text: str, value: _V) -> _V:
    """Keep `value` for `text` in a bounded cache (cleared when full: cheap, and the
    working set of a busy switch refills it within a few calls)."""
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[text] = value
    return value


def _parse_via(text: str, any_version: bool) -> Via:
    match = VIA_RE.match(text)
    if match is None:
        raise ParseError(f"bad Via {text.strip()[:80]!r}")
    name, version, transport, hostport, port_text, ptext = match.groups()
    # RFC 3261 §8.1.1.7: sent-protocol is "SIP/2.0/" transport
    if name.upper() != "SIP" or (version != "2.0" and not any_version):
        raise ParseError(f"bad Via protocol {name}/{version}")
    host, _ = parse_host_port(hostport)
    port = None
    if port_text is not None:
        port = int(port_text) if len(port_text) <= 5 else 0
        if not 0 < port < 65536:
            raise ParseError(f"bad Via port {port_text[:10]!r}")
    params = parse_params(ptext) if ptext else ()
    return Via(transport=transport.upper(), host=host, port=port, params=params)


def parse_via_list(value: str) -> list[Via]:
    parts = split_outside_quotes(value, ",")
    if len(parts) == 1:
        return [parse_via(value)]
    # RFC 3261 §7.3.1: elements are separated by commas; empty elements are skipped
    return [parse_via(part) for part in parts if part.strip()]


class NameAddr(msgspec.Struct, frozen=True, gc=False):
    """name-addr or addr-spec with header parameters (From, To, Contact, Route...)."""

    uri: Uri
    display: str | None = None
    params: Params = ()

    @property
    def tag(self) -> str | None:
        return param_value(self.params, "tag")

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)

    def with_tag(self, tag: str) -> NameAddr:
        kept = tuple(p for p in self.params if p[0].lower() != "tag")
        return msgspec.structs.replace(self, params=(*kept, ("tag", tag)))

    def __str__(self) -> str:
        display = ""
        if self.display is not None:
            display = quote_string(self.display) + " "
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(text: str) -> NameAddr:
    """( name-addr / addr-spec ) *( SEMI generic-param ) (RFC 3261 §20.10, §25.1)."""
    addr = _addr_cache.get(text)
    if addr is None:
        addr = _remember(_addr_cache, text, _parse_name_addr(text))
    return addr


def _parse_name_addr(text: str) -> NameAddr:
    text = text.strip()
    if not text:
        raise ParseError("empty address")
    lt = text.find("<", _quoted_end(text, 0) if text[0] == '"' else 0)
    if lt >= 0:
        return _parse_bracketed(text, lt)
    # addr-spec: "If the URI is not enclosed in angle brackets, any semicolon-delimited
    # parameters are header-parameters, not URI parameters" (RFC 3261 §20). And: "the
    # name-addr form MUST be used if the addr-spec contains a comma, semicolon, or
    # question mark" (§20.10), so a "?" here is an error (RFC 4475 §3.1.2.13).
    if text[0] == '"':
        raise ParseError(f"display name without <URI> in {text[:60]!r}")
    uri_text, _, ptext = text.partition(";")
    uri_text = uri_text.rstrip()
    if "?" in uri_text:
        raise ParseError(f"URI with headers must be enclosed in <> in {text[:60]!r}")
    if " " in uri_text or "\t" in uri_text or "," in uri_text:
        raise ParseError(f"bad address {text[:60]!r}")
    return NameAddr(uri=parse_uri(uri_text), params=parse_params(ptext) if ptext else ())


def _parse_bracketed(text: str, lt: int) -> NameAddr:
    # name-addr = [ display-name ] LAQUOT addr-spec RAQUOT; LAQUOT = SWS "<"; RAQUOT = ">" SWS
    gt = text.find(">", lt)
    if gt < 0:
        raise ParseError(f"unterminated <...> in {text[:60]!r}")
    display = _parse_display(text[:lt].rstrip()) if lt else None
    inner = text[lt + 1 : gt]
    if not inner or inner[0] in " \t" or inner[-1] in " \t":
        # RFC 4475 §3.1.2.14: no LWS inside the angle brackets
        raise ParseError(f"whitespace inside <> in {text[:60]!r}")
    rest = text[gt + 1 :].lstrip()
    if rest and rest[0] != ";":
        raise ParseError(f"unexpected text after <URI> in {text[:60]!r}")
    return NameAddr(
        uri=parse_uri(inner), display=display, params=parse_params(rest) if rest else ()
    )


def _parse_display(text: str) -> str | None:
    # display-name = *(token LWS) / quoted-string
    if not text:
        return None
    if text[0] == '"':
        _check_quoted(text)
        return unquote_string(text)
    # RFC 4475 §3.1.2.15: an unquoted display name is tokens and LWS only
    for word in text.split():
        if not TOKEN_CHARS.issuperset(word):
            raise ParseError(f"bad display name {text[:60]!r}")
    return " ".join(text.split())


def parse_name_addr_list(value: str) -> list[NameAddr]:
    return [parse_name_addr(part) for part in split_outside_quotes(value, ",") if part.strip()]


class CSeq(msgspec.Struct, frozen=True, gc=False):
    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_cseq(text: str) -> CSeq:
    """CSeq = 1*DIGIT LWS Method."""
    cseq = _cseq_cache.get(text)
    if cseq is None:
        cseq = _remember(_cseq_cache, text, _parse_cseq(text))
    return cseq


def _parse_cseq(text: str) -> CSeq:
    parts = text.split()
    if len(parts) != 2:
        raise ParseError(f"bad CSeq {text.strip()[:60]!r}")
    number, method = parts
    if not number.isdigit() or not number.isascii() or not is_token(method):
        raise ParseError(f"bad CSeq {text.strip()[:60]!r}")
    # RFC 3261 §8.1.1.5: "The sequence number MUST be expressible as a 32-bit unsigned
    # integer and MUST be less than 2**31." (RFC 4475 §3.1.2.4)
    if len(number) > 10 or int(number) >= 2**31:
        raise ParseError("CSeq number too large")
    return CSeq(seq=int(number), method=method)


class Challenge(msgspec.Struct, frozen=True):
    """Digest credentials or challenge: scheme plus auth-params (RFC 3261 §25.1)."""

    scheme: str
    params: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def __str__(self) -> str:
        return f"{self.scheme} " + ", ".join(f"{k}={v}" for k, v in self.params)


def parse_auth(text: str) -> Challenge:
    """Parse `Digest k=v, k="v"`; parameter names lowercased, values unquoted."""
    text = text.strip()
    scheme, _, rest = text.partition(" ")
    if not scheme:
        raise ParseError("empty authorization header")
    params: list[tuple[str, str]] = []
    for part in split_outside_quotes(rest, ","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise ParseError(f"bad auth parameter {part[:60]!r}")
        params.append((key.strip().lower(), unquote_string(value.strip())))
    return Challenge(scheme=scheme, params=tuple(params))


__all__ = [
    "CSeq",
    "Challenge",
    "NameAddr",
    "Via",
    "parse_auth",
    "parse_cseq",
    "parse_host_port",
    "parse_name_addr",
    "parse_name_addr_list",
    "parse_params",
    "parse_via",
    "parse_via_list",
    "quote_string",
    "split_outside_quotes",
    "unquote_string",
]
