"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) as frozen values."""

from __future__ import annotations

from urllib.parse import unquote

import msgspec

from .errors import ParseError
from .grammar import HOST_CHARS, IPV6_CHARS, PARAM_CHARS, URI_FORBIDDEN_RE, USER_CHARS

Params = tuple[tuple[str, str | None], ...]


def param_value(params: Params, name: str) -> str | None:
    """Value of a parameter (case-insensitive name); '' for a flag parameter."""
    for key, value in params:
        if key == name or key.lower() == name:
            return "" if value is None else value
    return None


def has_param(params: Params, name: str) -> bool:
    return any(key.lower() == name for key, _ in params)


def format_params(params: Params) -> str:
    """Header parameters (Via, From, Contact...): values are written as stored."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def _escape(text: str, allowed: frozenset[str]) -> str:
    # RFC 3261 §19.1.2: characters outside the component's set are escaped as "%" HEX HEX
    # of their UTF-8 octets; "%" itself is escaped since values are stored decoded.
    if allowed.issuperset(text):
        return text
    return "".join(
        c if c in allowed else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
        for c in text
    )


def format_uri_params(params: Params) -> str:
    """uri-parameters: names and values are stored decoded, so escape them again."""
    return "".join(
        f";{_escape(k, PARAM_CHARS)}"
        if v is None
        else f";{_escape(k, PARAM_CHARS)}={_escape(v, PARAM_CHARS)}"
        for k, v in params
    )


class SipUri(msgspec.Struct, frozen=True, gc=False):
    """sip: or sips: URI. `host` keeps IPv6 brackets; `user` and params are percent-decoded."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()
    scheme: str = "sip"

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)

    def with_user(self, user: str | None) -> SipUri:
        return msgspec.structs.replace(self, user=user)

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(_escape(self.user, USER_CHARS))
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        if self.params:
            out.append(format_uri_params(self.params))
        if self.headers:
            out.append("?" + "&".join(f"{k}={v}" for k, v in self.headers))
        return "".join(out)


class TelUri(msgspec.Struct, frozen=True, gc=False):
    """tel: URI (RFC 3966)."""

    number: str
    params: Params = ()

    @property
    def user(self) -> str:
        return self.number

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)

    def __str__(self) -> str:
        return f"tel:{self.number}{format_uri_params(self.params)}"


class AbsoluteUri(msgspec.Struct, frozen=True, gc=False):
    """Any other scheme (RFC 3261 allows absoluteURI in Request-URI and name-addr)."""

    scheme: str
    rest: str

    @property
    def user(self) -> None:
        return None

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri = SipUri | TelUri | AbsoluteUri


def _split_params(text: str) -> Params:
    # uri-parameters = *( ";" uri-parameter ); uri-parameter = pname [ "=" pvalue ].
    # Empty parameters (";;") are skipped: tolerant of what peers send, and harmless.
    out: list[tuple[str, str | None]] = []
    for part in text.split(";"):
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not key:
            raise ParseError("empty URI parameter name")
        if "%" in key:
            key = unquote(key)
        if eq and "%" in value:
            value = unquote(value)
        out.append((key, value if eq else None))
    return tuple(out)


def parse_host_port(text: str) -> tuple[str, int | None]:
    """Split `host[:port]`; validates the host characters and the port range."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParseError("unterminated IPv6 reference")
        host, rest = text[: end + 1], text[end + 1 :]
        inner = host[1:-1]
        # IPv6reference = "[" IPv6address "]"
        if ":" not in inner or not IPV6_CHARS.issuperset(inner):
            raise ParseError(f"bad IPv6 reference {host!r}")
    else:
        host, colon, port_text = text.partition(":")
        rest = ":" + port_text if colon else ""
        if not host or not HOST_CHARS.issuperset(host):
            raise ParseError(f"bad host {host!r}")
    if not rest:
        return host, None
    digits = rest[1:]
    # port = 1*DIGIT
    if rest[0] != ":" or not digits.isdigit() or not digits.isascii() or len(digits) > 5:
        raise ParseError(f"bad port in {text!r}")
    port = int(digits)
    if not 0 < port < 65536:
        raise ParseError(f"port {port} out of range")
    return host, port


def parse_uri(text: str) -> Uri:
    """Parse a URI; raises ParseError naming what is wrong."""
    scheme, colon, rest = text.partition(":")
    if not colon or not scheme:
        raise ParseError(f"bad URI {text[:80]!r}")
    low = scheme.lower()
    # RFC 3261 §19.1.1: "URIs MUST NOT contain unescaped space and control characters"
    if URI_FORBIDDEN_RE.search(rest) is not None:
        raise ParseError(f"bad character in URI {text[:80]!r}")
    if low == "sip" or low == "sips":
        return _parse_sip(low, rest)
    if low == "tel":
        number, _, ptext = rest.partition(";")
        if not number:
            raise ParseError("empty tel URI")
        return TelUri(number=number, params=_split_params(ptext))
    # scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    if (
        not scheme[0].isalpha()
        or not scheme.isascii()
        or not all(c.isalnum() or c in "+-." for c in scheme)
    ):
        raise ParseError(f"bad URI scheme {scheme[:40]!r}")
    if not rest:
        raise ParseError(f"empty {low}: URI")
    return AbsoluteUri(scheme=low, rest=rest)


def _parse_sip(scheme: str, rest: str) -> SipUri:
    # SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
    # userinfo may hold ";", "?" and "/" (user-unreserved, RFC 4475 §3.1.1.2) but no
    # unescaped "@", and neither may hostport, params or headers: the last "@" ends it.
    user = password = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        u, pcolon, pw = userinfo.partition(":")
        if not u:
            raise ParseError("empty user part in URI")
        user = unquote(u) if "%" in u else u
        password = pw if pcolon else None
    headers: tuple[tuple[str, str], ...] = ()
    rest, qmark, htext = rest.partition("?")
    if qmark:
        # headers = "?" header *( "&" header ); header = hname "=" hvalue
        pairs = []
        for item in htext.split("&"):
            k, _, v = item.partition("=")
            if not k:
                raise ParseError("empty URI header name")
            pairs.append((k, v))
        headers = tuple(pairs)
    hostport, _, ptext = rest.partition(";")
    host, port = parse_host_port(hostport)
    return SipUri(
        scheme=scheme,
        user=user,
        password=password,
        host=host,
        port=port,
        params=_split_params(ptext) if ptext else (),
        headers=headers,
    )
