"""Immutable snapshot of the configuration, indexed for the router.

`Directory.build(config)` resolves every name once (extension lists into pickup members, user
groups into `allow_pickup`, coverage targets into `ToVoicemail` / `ToNumber`, trunk URIs into
host and port) and keeps lookup tables keyed only on configured values. A config reload builds a
new Directory; nothing here changes after `build`.

Customers are named by their configured `name` in every method.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal, TypeVar

import msgspec

from config import schema

__all__ = [
    "CallingGroup",
    "Coverage",
    "CoverageTarget",
    "Customer",
    "Dialable",
    "Directory",
    "Extension",
    "FeatureCodes",
    "HuntGroup",
    "PickupGroup",
    "ToNumber",
    "ToVoicemail",
    "Trunk",
]

FeatureCodes = schema.Features
"""The global feature codes (`pickup`, `pickup_numbering`, `hunt_login`, ...)."""


class ToVoicemail(msgspec.Struct, frozen=True, tag="voicemail"):
    """Coverage target: the voicemail box of extension `box`."""

    box: str


class ToNumber(msgspec.Struct, frozen=True, tag="number"):
    """Coverage target: dial `number` in the same customer's dial plan."""

    number: str


CoverageTarget = ToVoicemail | ToNumber


class Coverage(msgspec.Struct, frozen=True, kw_only=True):
    no_answer_seconds: int
    busy: CoverageTarget | None
    no_answer: CoverageTarget | None


class Customer(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    domain: str
    access_code: str | None


class Extension(msgspec.Struct, frozen=True, kw_only=True):
    customer: str
    number: str
    name: str
    password: str
    user_group: str
    allow_pickup: bool
    voicemail: bool
    coverage: Coverage | None
    """Own coverage; `voicemail` resolves to this extension's box."""


class HuntGroup(msgspec.Struct, frozen=True, kw_only=True):
    customer: str
    name: str
    number: str
    strategy: Literal["sequential", "round_robin"]
    type: Literal["static", "dynamic"]
    members: tuple[str, ...]
    ring_seconds: int
    default_box: str
    """Voicemail box taking calls no member answers: `default`, else the last member."""
    password: str | None
    auto_logout: bool
    coverage: Coverage | None
    """Group coverage (wins over `default_box`); `voicemail` resolves to `default_box`."""

    @property
    def dynamic(self) -> bool:
        return self.type == "dynamic"


class CallingGroup(msgspec.Struct, frozen=True, kw_only=True):
    customer: str
    name: str
    number: str
    members: tuple[str, ...]
    ring_seconds: int
    coverage: Coverage | None
    """`voicemail` resolves to the box of the last member."""


class PickupGroup(msgspec.Struct, frozen=True, kw_only=True):
    customer: str
    name: str
    number: str
    members: tuple[str, ...]


class Trunk(msgspec.Struct, frozen=True, kw_only=True):
    customer: str
    name: str
    uri: str
    host: str
    """Lower-cased host of `uri`; inbound calls are recognised by (host, port)."""
    port: int
    transport: Literal["udp", "tcp"]
    outbound_prefix: str | None
    inbound: tuple[tuple[str, CoverageTarget], ...]
    """Called number -> target, in file order."""

    def inbound_target(self, number: str) -> CoverageTarget | None:
        for did, target in self.inbound:
            if did == number:
                return target
        return None


Dialable = Extension | HuntGroup | CallingGroup
_K = TypeVar("_K")
_V = TypeVar("_V")


def _frozen(items: Iterable[tuple[_K, _V]]) -> Mapping[_K, _V]:
    return MappingProxyType(dict(items))


def _target(text: str, own_box: str) -> CoverageTarget:
    if text == "voicemail":
        return ToVoicemail(box=own_box)
    if text.startswith("voicemail:"):
        return ToVoicemail(box=text.partition(":")[2])
    return ToNumber(number=text)


def _coverage(cov: schema.Coverage | None, own_box: str) -> Coverage | None:
    if cov is None:
        return None
    return Coverage(
        no_answer_seconds=cov.no_answer_seconds,
        busy=None if cov.busy is None else _target(cov.busy, own_box),
        no_answer=None if cov.no_answer is None else _target(cov.no_answer, own_box),
    )


class _CustomerIndex(msgspec.Struct, frozen=True, kw_only=True):
    customer: Customer
    extensions: Mapping[str, Extension]
    hunt_groups: Mapping[str, HuntGroup]
    calling_groups: Mapping[str, CallingGroup]
    pickup_groups: tuple[PickupGroup, ...]
    pickup_by_number: Mapping[str, PickupGroup]
    pickup_of_extension: Mapping[str, tuple[PickupGroup, ...]]
    trunks: tuple[Trunk, ...]
    peers: frozenset[str]


def _index_customer(c: schema.Customer, peers: frozenset[str]) -> _CustomerIndex:
    allow = {g.name: g.allow_pickup for g in c.user_groups}
    extensions = [
        Extension(
            customer=c.name,
            number=e.number,
            name=e.name,
            password=e.password,
            user_group=e.user_group,
            allow_pickup=allow.get(e.user_group, False),
            voicemail=e.voicemail,
            coverage=_coverage(e.coverage, e.number),
        )
        for e in c.extensions
    ]
    lists = {lst.name: lst.extensions for lst in c.extension_lists}
    pickups = tuple(
        PickupGroup(
            customer=c.name, name=g.name, number=g.number, members=lists.get(g.extension_list, ())
        )
        for g in c.pickup_groups
    )
    return _CustomerIndex(
        customer=Customer(name=c.name, domain=c.domain, access_code=c.access_code),
        extensions=_frozen((e.number, e) for e in extensions),
        hunt_groups=_frozen((g.number, _hunt_group(c.name, g)) for g in c.hunt_groups),
        calling_groups=_frozen((g.number, _calling_group(c.name, g)) for g in c.calling_groups),
        pickup_groups=pickups,
        pickup_by_number=_frozen((g.number, g) for g in pickups),
        pickup_of_extension=_frozen(
            (e.number, tuple(g for g in pickups if e.number in g.members)) for e in extensions
        ),
        trunks=tuple(_trunk(c.name, t) for t in c.trunks),
        peers=peers,
    )


def _hunt_group(customer: str, g: schema.HuntGroup) -> HuntGroup:
    box = g.default if g.default is not None else (g.members[-1] if g.members else "")
    return HuntGroup(
        customer=customer,
        name=g.name,
        number=g.number,
        strategy=g.strategy,
        type=g.type,
        members=g.members,
        ring_seconds=g.ring_seconds,
        default_box=box,
        password=g.password,
        auto_logout=g.auto_logout,
        coverage=_coverage(g.coverage, box),
    )


def _calling_group(customer: str, g: schema.CallingGroup) -> CallingGroup:
    box = g.members[-1] if g.members else ""
    return CallingGroup(
        customer=customer,
        name=g.name,
        number=g.number,
        members=g.members,
        ring_seconds=g.ring_seconds,
        coverage=_coverage(g.coverage, box),
    )


def _trunk(customer: str, t: schema.Trunk) -> Trunk:
    host, port, transport = schema.split_sip_uri(t.uri)
    return Trunk(
        customer=customer,
        name=t.name,
        uri=t.uri,
        host=host,
        port=port,
        transport=transport,
        outbound_prefix=t.outbound_prefix,
        inbound=tuple((did, _target(target, "")) for did, target in t.inbound.items()),
    )


def _peers(config: schema.SwitchConfig) -> dict[str, frozenset[str]]:
    peers: dict[str, set[str]] = {c.name: set() for c in config.customers}
    for group in config.customer_groups:
        for name in group.customers:
            if name in peers:
                peers[name].update(n for n in group.customers if n != name and n in peers)
    return {name: frozenset(names) for name, names in peers.items()}


class Directory:
    """Read-only lookups over one configuration. Build with `Directory.build(config)`."""

    __slots__ = ("_customers", "_by_domain", "_by_access_code", "_by_source", "features")

    features: FeatureCodes
    _customers: Mapping[str, _CustomerIndex]
    _by_domain: Mapping[str, _CustomerIndex]
    _by_access_code: Mapping[str, _CustomerIndex]
    _by_source: Mapping[tuple[str, int], Trunk]

    def __init__(self, config: schema.SwitchConfig) -> None:
        peers = _peers(config)
        indexes = [_index_customer(c, peers[c.name]) for c in config.customers]
        init = object.__setattr__
        init(self, "features", config.features)
        init(self, "_customers", _frozen((i.customer.name, i) for i in indexes))
        init(self, "_by_domain", _frozen((i.customer.domain.lower(), i) for i in indexes))
        codes = ((i.customer.access_code, i) for i in indexes if i.customer.access_code)
        init(self, "_by_access_code", _frozen(codes))
        init(self, "_by_source", _frozen(((t.host, t.port), t) for i in indexes for t in i.trunks))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Directory is immutable; build a new one")

    @classmethod
    def build(cls, config: schema.SwitchConfig) -> Directory:
        """Index a (checked) configuration."""
        return cls(config)

    # customers
    @property
    def customers(self) -> tuple[Customer, ...]:
        return tuple(i.customer for i in self._customers.values())

    def customer(self, name: str) -> Customer | None:
        index = self._customers.get(name)
        return None if index is None else index.customer

    def customer_by_domain(self, domain: str) -> Customer | None:
        """The customer whose `domain` is `domain` (case-insensitive)."""
        index = self._by_domain.get(domain.lower())
        return None if index is None else index.customer

    def customer_by_access_code(self, code: str) -> Customer | None:
        index = self._by_access_code.get(code)
        return None if index is None else index.customer

    def customer_group_peers(self, customer: str) -> frozenset[str]:
        """Names of the other customers sharing at least one customer group with `customer`."""
        index = self._customers.get(customer)
        return frozenset() if index is None else index.peers

    def may_call_across(self, caller: str, callee: str) -> bool:
        """True if `caller`'s phones may reach `callee` by access code (same customer group)."""
        return callee in self.customer_group_peers(caller)

    # dial plan
    def extension(self, customer: str, number: str) -> Extension | None:
        index = self._customers.get(customer)
        return None if index is None else index.extensions.get(number)

    def password(self, customer: str, number: str) -> str | None:
        """The digest password of an extension (the credentials lookup of switch.auth)."""
        ext = self.extension(customer, number)
        return ext.password if ext is not None else None

    def extensions(self, customer: str) -> tuple[Extension, ...]:
        index = self._customers.get(customer)
        return () if index is None else tuple(index.extensions.values())

    def hunt_group(self, customer: str, number: str) -> HuntGroup | None:
        index = self._customers.get(customer)
        return None if index is None else index.hunt_groups.get(number)

    def hunt_groups(self, customer: str) -> tuple[HuntGroup, ...]:
        index = self._customers.get(customer)
        return () if index is None else tuple(index.hunt_groups.values())

    def calling_group(self, customer: str, number: str) -> CallingGroup | None:
        index = self._customers.get(customer)
        return None if index is None else index.calling_groups.get(number)

    def calling_groups(self, customer: str) -> tuple[CallingGroup, ...]:
        index = self._customers.get(customer)
        return () if index is None else tuple(index.calling_groups.values())

    def lookup(self, customer: str, number: str) -> Dialable | None:
        """The extension, hunt group or calling group dialled as exactly `number`."""
        return (
            self.extension(customer, number)
            or self.hunt_group(customer, number)
            or self.calling_group(customer, number)
        )

    # pickup
    def pickup_groups(self, customer: str) -> tuple[PickupGroup, ...]:
        index = self._customers.get(customer)
        return () if index is None else index.pickup_groups

    def pickup_groups_of(self, customer: str, extension: str) -> tuple[PickupGroup, ...]:
        """The pickup groups `extension` is a member of, in file order."""
        index = self._customers.get(customer)
        return () if index is None else index.pickup_of_extension.get(extension, ())

    def pickup_group_by_number(self, customer: str, number: str) -> PickupGroup | None:
        index = self._customers.get(customer)
        return None if index is None else index.pickup_by_number.get(number)

    def allow_pickup(self, customer: str, extension: str) -> bool:
        """`allow_pickup` of the extension's user group (False for an unknown extension)."""
        ext = self.extension(customer, extension)
        return ext is not None and ext.allow_pickup

    def share_pickup_group(self, customer: str, a: str, b: str) -> bool:
        return any(b in g.members for g in self.pickup_groups_of(customer, a))

    # trunks
    def trunks(self, customer: str) -> tuple[Trunk, ...]:
        index = self._customers.get(customer)
        return () if index is None else index.trunks

    def trunk_by_source(self, host: str, port: int) -> tuple[Customer, Trunk] | None:
        """The trunk whose URI is `host:port` (exact match), with its customer."""
        trunk = self._by_source.get((host.lower(), port))
        if trunk is None:
            return None
        return self._customers[trunk.customer].customer, trunk

    def outbound_trunk(self, customer: str, dialled: str) -> tuple[Trunk, str] | None:
        """The customer's own trunk whose `outbound_prefix` starts `dialled`, and the number
        with the prefix stripped (longest prefix wins; never another customer's trunk)."""
        best: tuple[Trunk, str] | None = None
        for trunk in self.trunks(customer):
            prefix = trunk.outbound_prefix
            if prefix and dialled.startswith(prefix) and len(dialled) > len(prefix):
                if best is None or len(prefix) > len(best[0].outbound_prefix or ""):
                    best = (trunk, dialled[len(prefix) :])
        return best
