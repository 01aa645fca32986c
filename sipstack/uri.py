"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) as frozen values."""

from __future__ import annotations

from urllib.parse import unquote

import msgspec

from .errors import ParseError

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
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


class SipUri(msgspec.Struct, frozen=True, gc=False):
    """sip: or sips: URI. `host` keeps IPv6 brackets; `user` is percent-decoded."""

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
            out.append(_escape_user(self.user))
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        out.append(format_params(self.params))
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
        return f"tel:{self.number}{format_params(self.params)}"


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

_USER_UNRESERVED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,;?/"
)


def _escape_user(user: str) -> str:
    if all(c in _USER_UNRESERVED for c in user):
        return user
    return "".join(c if c in _USER_UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in user)


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


def _split_params(text: str) -> Params:
    out: list[tuple[str, str | None]] = []
    for part in text.split(";"):
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not key:
            raise ParseError("empty URI parameter name")
        out.append((unquote(key), unquote(value) if eq else None))
    return tuple(out)


def parse_host_port(text: str) -> tuple[str, int | None]:
    """Split `host[:port]`; validates the host characters and the port range."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParseError("unterminated IPv6 reference")
        host, rest = text[: end + 1], text[end + 1 :]
        inner = host[1:-1]
        if not inner or any(c not in "0123456789abcdefABCDEF:." for c in inner):
            raise ParseError(f"bad IPv6 reference {host!r}")
    else:
        host, colon, port_text = text.partition(":")
        rest = ":" + port_text if colon else ""
        if not host or any(c not in _HOST_CHARS for c in host):
            raise ParseError(f"bad host {host!r}")
    if not rest:
        return host, None
    if not rest.startswith(":") or not rest[1:].isdigit() or not rest[1:].isascii():
        raise ParseError(f"bad port in {text!r}")
    port = int(rest[1:])
    if not 0 < port < 65536:
        raise ParseError(f"port {port} out of range")
    return host, port


def parse_uri(text: str) -> Uri:
    """Parse a URI; raises ParseError naming what is wrong."""
    scheme, colon, rest = text.partition(":")
    if not colon or not scheme:
        raise ParseError(f"bad URI {text!r}")
    low = scheme.lower()
    if low in ("sip", "sips"):
        return _parse_sip(low, rest)
    if low == "tel":
        number, _, ptext = rest.partition(";")
        if not number:
            raise ParseError("empty tel URI")
        return TelUri(number=number, params=_split_params(ptext))
    if not scheme[0].isalpha() or not all(c.isalnum() or c in "+-." for c in scheme):
        raise ParseError(f"bad URI scheme {scheme!r}")
    if any(c in rest for c in " \t\r\n"):
        raise ParseError(f"whitespace in URI {text!r}")
    return AbsoluteUri(scheme=low, rest=rest)


def _parse_sip(scheme: str, rest: str) -> SipUri:
    if any(c in rest for c in " \t\r\n<>\""):
        raise ParseError(f"bad character in URI {scheme}:{rest!r}")
    headers: tuple[tuple[str, str], ...] = ()
    rest, qmark, htext = rest.partition("?")
    if qmark:
        pairs = []
        for item in htext.split("&"):
            k, _, v = item.partition("=")
            pairs.append((k, v))
        headers = tuple(pairs)
    user = password = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        u, pcolon, pw = userinfo.partition(":")
        if not u:
            raise ParseError("empty user part in URI")
        user = unquote(u)
        password = pw if pcolon else None
    hostport, _, ptext = rest.partition(";")
    host, port = parse_host_port(hostport)
    return SipUri(
        scheme=scheme, user=user, password=password, host=host, port=port,
        params=_split_params(ptext), headers=headers,
    )
