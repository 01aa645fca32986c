"""Typed configuration tree of the softswitch.

Every key of the reference configuration (`tests/data/reference.yaml`, explained in
docs/BEHAVIOUR.md) is a field here, spelled as in the file. Structs are
frozen, keyword-only and refuse unknown keys; sequences are tuples. Numbers (extensions, groups,
access codes, feature codes, prefixes, DIDs) are strings: "0201" and "201" are different.

`Listen` and `HostPort` are written in YAML as one string (`udp:127.0.0.1:5060`,
`127.0.0.1:8080`) and decoded by `dec_hook` into typed values, so a malformed one is reported
at its own line. Cross-reference rules (members exist, numbers are not prefixes of one another,
and so on) live in `config.load`, not here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "DIALABLE_PATTERN",
    "NUMBER_PATTERN",
    "PATTERN_HELP",
    "TARGET_PATTERN",
    "AuthSettings",
    "CallingGroup",
    "Coverage",
    "Customer",
    "CustomerGroup",
    "Extension",
    "ExtensionList",
    "FeatureKey",
    "Features",
    "HostPort",
    "HuntGroup",
    "Listen",
    "PickupGroup",
    "RegistrationSettings",
    "ServerConfig",
    "SwitchConfig",
    "Trunk",
    "UserGroup",
    "dec_hook",
    "split_sip_uri",
]

# --- string shapes --------------------------------------------------------------------------

NUMBER_PATTERN = r"^[0-9]{1,32}$"
"""Extension and group numbers: digits only."""
DIALABLE_PATTERN = r"^[0-9*#+]{1,32}$"
"""Feature codes, access codes, trunk prefixes and DIDs: digits, `*`, `#`, `+`."""
TARGET_PATTERN = r"^(voicemail(:[0-9]{1,32})?|[0-9*#+]{1,32})$"
"""A coverage or inbound target: `voicemail`, `voicemail:EXT`, or a number."""
PICKUP_NUMBERING_PATTERN = r"^[0-9X]{1,32}$"
DOMAIN_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$"
SIP_URI_PATTERN = (
    r"^sips?:([^@;?\s]+@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(;[^\s]*)?$"
)
PORT_RANGE_PATTERN = r"^[0-9]{1,5}-[0-9]{1,5}$"
RTPENGINE_PATTERN = r"^udp:[^ ]+:[0-9]{1,5}$"

PATTERN_HELP: dict[str, str] = {
    NUMBER_PATTERN: "a number of digits only (quoted)",
    DIALABLE_PATTERN: "a dialable code of digits, '*', '#' or '+' (quoted)",
    TARGET_PATTERN: "'voicemail', 'voicemail:EXTENSION' or a number",
    PICKUP_NUMBERING_PATTERN: 'digits and X (X = any digit), e.g. "55X"',
    DOMAIN_PATTERN: "a DNS domain name",
    SIP_URI_PATTERN: "a SIP URI such as sip:192.0.2.1:5060",
    PORT_RANGE_PATTERN: "a port range LOW-HIGH such as 10000-20000",
    RTPENGINE_PATTERN: "rtpengine's ng address, udp:HOST:PORT",
}
"""What each pattern means, for error messages (msgspec only reports the regex)."""

Number = Annotated[str, Meta(pattern=NUMBER_PATTERN)]
Dialable = Annotated[str, Meta(pattern=DIALABLE_PATTERN)]
Target = Annotated[str, Meta(pattern=TARGET_PATTERN)]
Name = Annotated[str, Meta(min_length=1, max_length=64)]
Domain = Annotated[str, Meta(pattern=DOMAIN_PATTERN)]
Seconds = Annotated[int, Meta(ge=1, le=3600)]
Password = Annotated[str, Meta(min_length=1)]

Transport = Literal["udp", "tcp"]

_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$")


def _parse_port(text: str, whole: str) -> int:
    if not text.isdigit() or not text.isascii() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in {whole!r} (1-65535)")
    return int(text)


def _split_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not _HOST_RE.match(host) or host.startswith(":"):
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, _parse_port(port, text)


class HostPort:
    """`HOST:PORT`, written in YAML as one string."""

    __slots__ = ("host", "port")
    host: str
    port: int

    def __init__(self, *, host: str, port: int) -> None:
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", port)

    @classmethod
    def parse(cls, text: str) -> HostPort:
        host, port = _split_host_port(text)
        return cls(host=host, port=port)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostPort):
            return NotImplemented
        return (self.host, self.port) == (other.host, other.port)

    def __hash__(self) -> int:
        return hash((self.host, self.port))

    def __repr__(self) -> str:
        return f"HostPort(host={self.host!r}, port={self.port})"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class Listen:
    """`TRANSPORT:HOST:PORT` (`udp:127.0.0.1:5060`), written in YAML as one string."""

    __slots__ = ("transport", "host", "port")
    transport: Transport
    host: str
    port: int

    def __init__(self, *, transport: Transport, host: str, port: int) -> None:
        object.__setattr__(self, "transport", transport)
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", port)

    @classmethod
    def parse(cls, text: str) -> Listen:
        transport, sep, rest = text.partition(":")
        if not sep or transport.lower() not in ("udp", "tcp"):
            raise ValueError(f"expected udp:HOST:PORT or tcp:HOST:PORT, got {text!r}")
        host, port = _split_host_port(rest)
        return cls(transport="udp" if transport.lower() == "udp" else "tcp", host=host, port=port)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Listen):
            return NotImplemented
        return (self.transport, self.host, self.port) == (other.transport, other.host, other.port)

    def __hash__(self) -> int:
        return hash((self.transport, self.host, self.port))

    def __repr__(self) -> str:
        return f"Listen(transport={self.transport!r}, host={self.host!r}, port={self.port})"

    def __str__(self) -> str:
        return f"{self.transport}:{self.host}:{self.port}"


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec decode hook for the string-written value types above."""
    if type_ is Listen or type_ is HostPort:
        if not isinstance(obj, str):
            raise TypeError(f"Expected `str`, got `{type(obj).__name__}`")
        return type_.parse(obj)
    raise NotImplementedError(f"no decoder for {type_!r}")


def split_sip_uri(uri: str) -> tuple[str, int, Transport]:
    """(host, port, transport) a trunk URI points at; port defaults to 5060 (5061 for sips).

    The configuration check refuses sips: and transport=tls trunks (no TLS yet), so a
    loaded configuration never reaches the sips branch below."""
    scheme, _, rest = uri.partition(":")
    rest = rest.rpartition("@")[2]
    hostport, _, params = rest.partition(";")
    transport: Transport = "udp"
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.lower() == "transport" and value.lower() == "tcp":
            transport = "tcp"
    if scheme.lower() == "sips":
        transport = "tcp"
    default_port = 5061 if scheme.lower() == "sips" else 5060
    if hostport.startswith("["):
        end = hostport.index("]") + 1
        host, port_text = hostport[:end], hostport[end + 1 :]
    else:
        host, _, port_text = hostport.partition(":")
    return host.lower(), int(port_text) if port_text else default_port, transport


# --- server ---------------------------------------------------------------------------------


class RegistrationSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """REGISTER expiry policy (RFC 3261 §10.3 steps 7-8: Min-Expires / 423)."""

    min_expires: Annotated[int, Meta(ge=1)] = 60
    max_expires: Annotated[int, Meta(ge=1)] = 3600
    default_expires: Annotated[int, Meta(ge=1)] = 3600


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Digest authentication policy. The realm is the customer's domain."""

    algorithms: tuple[Literal["SHA-256", "MD5", "SHA-512-256"], ...] = ("MD5",)
    """Challenges offered side by side, in this order (RFC 8760 §2.4: a client uses the
    topmost it supports). MD5 only by default: SIPp and many desk phones answer only the
    first challenge and know only MD5, and baresip 1.0 (libre 1.1) fails the whole
    authentication with ENOSYS when any challenge is not MD5. SHA-256 is opt-in
    (`[MD5, SHA-256]` or `[SHA-256, MD5]`)."""
    nonce_ttl: Annotated[int, Meta(ge=1)] = 300
    max_failures: Annotated[int, Meta(ge=1)] = 10
    """Failed attempts per source address within `failure_window` before it is refused."""
    failure_window: Annotated[int, Meta(ge=1)] = 60
    invite_401_user_agents: tuple[str, ...] = ("pyVoIP",)
    """User-Agent prefixes whose INVITEs are challenged with 401 (WWW-Authenticate) instead of
    407: pyVoIP 1.6.8 answers only a 401 and waits forever on a 407. Every other phone gets
    407, as a B2BUA on the call path should send."""


class BlfSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_subscriptions: Annotated[int, Meta(ge=1)] = 200
    """Busy-lamp subscriptions one phone (one source address) may hold; beyond, 503."""


class NatSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    keepalive_seconds: Annotated[int, Meta(ge=0)] = 30
    """How often a phone registered from behind a NAT router gets an OPTIONS over UDP;
    0 turns keep-alives off. Three unanswered in a row remove the binding."""


class MediaSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    relay: Literal["embedded", "process", "rtpengine", "off"] = "embedded"
    """Who carries the RTP of calls between two parties: the switch itself (`embedded`),
    the same relay in a child process on a core of its own (`process`), an rtpengine
    daemon at `rtpengine` (`rtpengine`), or nobody (`off`: the parties' own SDP passes
    end to end, for a single LAN without NAT)."""
    rtpengine: Annotated[str, Meta(pattern=RTPENGINE_PATTERN)] | None = None
    """rtpengine's ng control socket, `udp:HOST:PORT`; needed with `relay: rtpengine`."""
    timeout_seconds: Annotated[int, Meta(ge=0)] = 60
    """A party whose RTP stops this long while not on hold ends the call; 0: never."""


class ServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    listen: Annotated[tuple[Listen, ...], Meta(min_length=1)]
    state_dir: Annotated[str, Meta(min_length=1)] = "./var"
    admin: HostPort | None = None
    user_agent: str = "softswitch"
    advertise: str | None = None
    """The address written into our Contact and SDP when it differs from the listen
    address (a wildcard listen, or NAT in front of the switch); default: the listen
    address, or for 0.0.0.0 the address of the default route."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    registration: RegistrationSettings = msgspec.field(default_factory=RegistrationSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    rtp_ports: Annotated[str, Meta(pattern=PORT_RANGE_PATTERN)] = "10000-20000"
    nat: NatSettings = msgspec.field(default_factory=NatSettings)
    blf: BlfSettings = msgspec.field(default_factory=BlfSettings)
    media: MediaSettings = msgspec.field(default_factory=MediaSettings)
    session_expires: Annotated[int, Meta(ge=0)] = 1800
    """RFC 4028 session interval the switch asks for on every leg; dead sessions end
    after it. 0 turns session timers off; otherwise at least 90 (Min-SE)."""


# --- features -------------------------------------------------------------------------------


FeatureKey = Literal[
    "pickup", "hunt_login", "hunt_logout", "hunt_block", "hunt_unblock", "voicemail"
]
"""The dialable feature codes, by their key under `features:`."""


class Features(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Feature codes, dialled as the start of the number; global to every customer."""

    pickup: Dialable = "**"
    pickup_numbering: Annotated[str, Meta(pattern=PICKUP_NUMBERING_PATTERN)] = "55X"
    hunt_login: Dialable = "*61"
    hunt_logout: Dialable = "*62"
    hunt_block: Dialable = "*78"
    hunt_unblock: Dialable = "*79"
    voicemail: Dialable = "*97"

    def codes(self) -> tuple[tuple[FeatureKey, str], ...]:
        """(key, code) of every dialable feature code, in declaration order."""
        return (
            ("pickup", self.pickup),
            ("hunt_login", self.hunt_login),
            ("hunt_logout", self.hunt_logout),
            ("hunt_block", self.hunt_block),
            ("hunt_unblock", self.hunt_unblock),
            ("voicemail", self.voicemail),
        )

    def pickup_number_allowed(self, number: str) -> bool:
        """True if `number` fits `pickup_numbering` (same length, X = any digit)."""
        pattern = self.pickup_numbering
        return len(number) == len(pattern) and all(
            p == n or (p == "X" and n.isdigit()) for p, n in zip(pattern, number, strict=True)
        )


# --- customers ------------------------------------------------------------------------------


class CustomerGroup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    customers: tuple[Name, ...]


class UserGroup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    allow_pickup: bool = False


class ExtensionList(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    extensions: tuple[Number, ...]


class Coverage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where unanswered or busy calls go. A target is `voicemail` (the extension's own box, or
    for a group the box of its `default` / last member), `voicemail:EXT`, or a number of the
    same customer."""

    no_answer_seconds: Seconds = 20
    busy: Target | None = None
    no_answer: Target | None = None


class Extension(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    number: Number
    name: str
    password: Password
    user_group: Name
    voicemail: bool = False
    coverage: Coverage | None = None


class PickupGroup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    number: Number
    extension_list: Name


class HuntGroup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    number: Number
    strategy: Literal["sequential", "round_robin"] = "sequential"
    type: Literal["static", "dynamic"] = "static"
    members: tuple[Number, ...]
    ring_seconds: Seconds = 15
    default: Number | None = None
    password: Password | None = None
    auto_logout: bool = False
    coverage: Coverage | None = None


class CallingGroup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    number: Number
    members: tuple[Number, ...]
    ring_seconds: Seconds = 20
    coverage: Coverage | None = None


class Trunk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    uri: Annotated[str, Meta(pattern=SIP_URI_PATTERN)]
    outbound_prefix: Dialable | None = None
    inbound: dict[Dialable, Target] = msgspec.field(default_factory=dict)


class Customer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    domain: Domain
    access_code: Dialable | None = None
    user_groups: tuple[UserGroup, ...] = ()
    extension_lists: tuple[ExtensionList, ...] = ()
    extensions: tuple[Extension, ...] = ()
    pickup_groups: tuple[PickupGroup, ...] = ()
    hunt_groups: tuple[HuntGroup, ...] = ()
    calling_groups: tuple[CallingGroup, ...] = ()
    trunks: tuple[Trunk, ...] = ()


class SwitchConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    server: ServerConfig
    features: Features = msgspec.field(default_factory=Features)
    customer_groups: tuple[CustomerGroup, ...] = ()
    customers: tuple[Customer, ...] = ()
