"""Typed header values (RFC 3261 §20, §25) and their parsers.

Parsers are called lazily by `Message` accessors; each raises only ParseError.
"""

from __future__ import annotations

import msgspec

from .errors import ParseError
from .uri import Params, Uri, format_params, param_value, parse_host_port, parse_uri


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split on `sep` where it is not inside a quoted string or <...> (RFC 3261 §7.3.1)."""
    if '"' not in text and "<" not in text:
        return text.split(sep)
    parts: list[str] = []
    start = 0
    quoted = False
    angle = False
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            angle = True
        elif c == ">":
            angle = False
        elif c == sep and not angle:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise ParseError("unterminated quoted string")
    parts.append(text[start:])
    return parts


def parse_params(text: str) -> Params:
    """`;a=b;c` → (('a','b'),('c',None)); values may be quoted strings (kept quoted)."""
    out: list[tuple[str, str | None]] = []
    for part in split_outside_quotes(text, ";"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not key or any(c in key for c in ' \t"<>'):
            raise ParseError(f"bad parameter {part!r}")
        out.append((key, value.strip() if eq else None))
    return tuple(out)


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


def quote_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


def parse_via(text: str) -> Via:
    proto, sep, rest = text.strip().partition("/")
    version, sep2, rest = rest.partition("/")
    if not sep or not sep2 or proto.strip().upper() != "SIP" or version.strip() != "2.0":
        raise ParseError(f"bad Via protocol in {text.strip()!r}")
    rest = rest.strip()
    # transport, then LWS, then sent-by (LWS is allowed around '/' too)
    i = 0
    while i < len(rest) and rest[i] not in " \t":
        i += 1
    transport = rest[:i].upper()
    sent = rest[i:].strip()
    if not transport or not sent:
        raise ParseError(f"bad Via {text.strip()!r}")
    hostport, _, ptext = sent.partition(";")
    hostport = hostport.strip()
    if " " in hostport or "\t" in hostport:
        hostport = hostport.replace(" ", "").replace("\t", "")
    host, port = parse_host_port(hostport)
    return Via(transport=transport, host=host, port=port, params=parse_params(ptext))


def parse_via_list(value: str) -> list[Via]:
    return [parse_via(part) for part in split_outside_quotes(value, ",") if part.strip()]


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
        if self.display:
            display = quote_string(self.display) + " "
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(text: str) -> NameAddr:
    text = text.strip()
    if not text:
        raise ParseError("empty address")
    lt = _find_unquoted(text, "<")
    if lt >= 0:
        gt = text.find(">", lt)
        if gt < 0:
            raise ParseError(f"unterminated <...> in {text!r}")
        display_text = text[:lt].strip()
        display = unquote_string(display_text) if display_text else None
        if display_text and display_text[0] != '"' and '"' in display_text:
            raise ParseError(f"bad display name {display_text!r}")
        uri = parse_uri(text[lt + 1 : gt].strip())
        return NameAddr(uri=uri, display=display, params=parse_params(text[gt + 1 :]))
    # addr-spec: parameters after the URI belong to the header, not the URI (§20.10)
    uri_text, _, ptext = text.partition(";")
    if " " in uri_text.strip():
        raise ParseError(f"bad address {text!r}")
    return NameAddr(uri=parse_uri(uri_text.strip()), params=parse_params(ptext))


def _find_unquoted(text: str, char: str) -> int:
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == char:
            return i
        i += 1
    if quoted:
        raise ParseError("unterminated quoted string")
    return -1


def parse_name_addr_list(value: str) -> list[NameAddr]:
    return [parse_name_addr(part) for part in split_outside_quotes(value, ",") if part.strip()]


class CSeq(msgspec.Struct, frozen=True, gc=False):
    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_cseq(text: str) -> CSeq:
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or not parts[0].isascii():
        raise ParseError(f"bad CSeq {text.strip()!r}")
    seq = int(parts[0])
    if seq >= 2**31:
        raise ParseError("CSeq number too large")
    return CSeq(seq=seq, method=parts[1])


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
            raise ParseError(f"bad auth parameter {part!r}")
        params.append((key.strip().lower(), unquote_string(value.strip())))
    return Challenge(scheme=scheme, params=tuple(params))
