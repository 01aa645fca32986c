"""Load and check a configuration file: every problem is reported as `FILE:LINE: message`.

Three passes, each over the whole file so that one run lists every problem:

1. YAML syntax and duplicate keys, on PyYAML's composed nodes (they keep `start_mark`).
2. Shape: the node tree is walked against the `SwitchConfig` types. Unknown keys are reported at
   the key's line, missing keys at the mapping's, wrong values at the value's (an unquoted
   number where a string is expected is told to be quoted). Values are checked by msgspec
   itself; the final `msgspec.convert` builds the tree, and should it still refuse the data,
   its `$.path` is mapped back to a line.
3. Cross references (`_Checker`): names that must exist, numbers unique and not prefixes of one
   another in each customer's dial plan, pickup numbers inside `pickup_numbering`, and so on.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .schema import (
    PATTERN_HELP,
    Coverage,
    Customer,
    SwitchConfig,
    dec_hook,
    split_sip_uri,
)

__all__ = ["ConfigError", "load_config", "parse_config"]

Path = tuple[str | int, ...]
# libyaml's loader when PyYAML was built with it (about 10x faster); same nodes and marks.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """YAML 1.2's booleans: only true and false. YAML 1.1 also reads yes, no, on and off
    as booleans, which would turn `relay: off` into false."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class ConfigError(Exception):
    """A configuration was refused. `problems` are `FILE:LINE: message` lines."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


def load_config(path: str | os.PathLike[str]) -> SwitchConfig:
    """Read, decode and check the file at `path`; raises `ConfigError` listing every problem."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([f"{name}:1: cannot read the file: {err}"]) from None
    return parse_config(text, name)


def parse_config(text: str, source: str = "<config>") -> SwitchConfig:
    """Decode and check configuration text; `source` names it in the messages."""
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
            if root is None:
                raise ConfigError([f"{source}:1: the file is empty"])
            duplicates = list(_duplicate_keys(root))
            data = loader.construct_document(root)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line = mark.line + 1 if mark is not None else 1
            what = " ".join(p for p in (err.context, err.problem) if p)
            raise ConfigError([f"{source}:{line}: YAML syntax error: {what}"]) from None
        except yaml.YAMLError as err:
            raise ConfigError([f"{source}:1: YAML error: {err}"]) from None
        problems = duplicates + _ShapeWalker(loader).walk(root, SwitchConfig)
        if problems:
            raise ConfigError(_format(source, problems))
        try:
            config = msgspec.convert(data, type=SwitchConfig, dec_hook=dec_hook)
        except msgspec.ValidationError as err:
            raise ConfigError(_format(source, [_from_msgspec(root, str(err))])) from None
    finally:
        loader.dispose()
    problems = _Checker(config, root).run()
    if problems:
        raise ConfigError(_format(source, problems))
    return config


Problem = tuple[int, str]


def _format(source: str, problems: Iterable[Problem]) -> list[str]:
    ordered = sorted(problems, key=lambda p: p[0])
    return [f"{source}:{line}: {message}" for line, message in ordered]


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


# --- pass 1: duplicate keys -------------------------------------------------------------------


def _duplicate_keys(root: Node) -> Iterator[Problem]:
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in first:
                        yield (
                            _line(key),
                            f"duplicate key {key.value!r} (first at line {first[key.value]})",
                        )
                    else:
                        first[key.value] = _line(key)
                stack.extend((key, value))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


# --- pass 2: shape ----------------------------------------------------------------------------


def _unwrap(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) is Annotated:
        return get_args(tp)[0], True
    return tp, False


class _ShapeWalker:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self._loader = loader
        self._problems: list[Problem] = []

    def walk(self, root: Node, tp: Any) -> list[Problem]:
        self._check(root, tp)
        return self._problems

    def _check(self, node: Node, tp: Any) -> None:
        inner, annotated = _unwrap(tp)
        origin = get_origin(inner)
        before = len(self._problems)
        if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
            self._check_struct(node, inner)
            return
        if origin in (Union, types.UnionType):
            args = get_args(inner)
            if _is_null(node) and type(None) in args:
                return
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1:
                self._check(node, rest[0])
                return
        elif origin in (tuple, list):
            if not isinstance(node, SequenceNode):
                self._add(node, f"expected a list, got {_describe(node)}")
                return
            item = get_args(inner)[0]
            for child in node.value:
                self._check(child, item)
            if annotated and len(self._problems) == before:
                self._convert(node, tp)
            return
        elif origin is dict:
            if not isinstance(node, MappingNode):
                self._add(node, f"expected a mapping, got {_describe(node)}")
                return
            key_tp, value_tp = get_args(inner)
            for key, value in node.value:
                self._check(key, key_tp)
                self._check(value, value_tp)
            return
        self._check_leaf(node, tp)

    def _check_struct(self, node: Node, cls: type[msgspec.Struct]) -> None:
        if not isinstance(node, MappingNode):
            self._add(node, f"expected a mapping (key: value lines), got {_describe(node)}")
            return
        fields = _fields(cls)
        present: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else None
            if name is None or name not in fields:
                self._add(key, _unknown_key(name, key, fields))
                continue
            present.add(name)
            self._check(value, fields[name].type)
        for name, info in fields.items():
            if info.required and name not in present:
                self._add(node, f"missing required key {name!r}")

    def _check_leaf(self, node: Node, tp: Any) -> None:
        if not isinstance(node, ScalarNode):
            self._add(node, f"expected a single value, got {_describe(node)}")
            return
        self._convert(node, tp)

    def _convert(self, node: Node, tp: Any) -> None:
        value = self._loader.construct_object(node, deep=True)
        try:
            msgspec.convert(value, type=tp, dec_hook=dec_hook)
        except msgspec.ValidationError as err:
            self._add(node, _leaf_message(str(err), node, value, tp))

    def _add(self, node: Node, message: str) -> None:
        self._problems.append((_line(node), message))


@functools.cache
def _fields(cls: type[msgspec.Struct]) -> dict[str, msgspec.structs.FieldInfo]:
    return {f.encode_name: f for f in msgspec.structs.fields(cls)}


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if _is_null(node):
        return "nothing"
    return f"{node.value!r}"


def _unknown_key(name: str | None, key: Node, fields: Iterable[str]) -> str:
    if name is None:
        return f"unknown key {_describe(key)}"
    close = difflib.get_close_matches(name, list(fields), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {name!r}{hint}"


def _literal_choices(tp: Any) -> tuple[str, ...]:
    inner, _ = _unwrap(tp)
    if get_origin(inner) is Literal:
        return tuple(str(a) for a in get_args(inner))
    return ()


def _leaf_message(message: str, node: Node, value: object, tp: Any) -> str:
    message = message.split(" - at `$")[0]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    plain = isinstance(node, ScalarNode) and not node.style
    if message.startswith("Expected `str`") and is_number and plain:
        return (
            f'{node.value} must be quoted: write "{node.value}" '
            f'(numbers are strings; "0201" and "201" are different)'
        )
    for pattern, help_text in PATTERN_HELP.items():
        if pattern in message:
            return f"invalid value {value!r}: expected {help_text}"
    choices = _literal_choices(tp)
    if choices and message.startswith("Invalid enum value"):
        return f"invalid value {value!r}: expected one of {', '.join(choices)}"
    return message


# --- fallback: msgspec's $.path to a line -----------------------------------------------------

_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")


def _from_msgspec(root: Node, message: str) -> Problem:
    text, _, where = message.partition(" - at `")
    path: list[str | int] = []
    for match in _PATH_PART.finditer(where.rstrip("`").removeprefix("$")):
        if match.group(1) is not None:
            path.append(match.group(1))
        elif match.group(2) is not None:
            path.append(int(match.group(2)))
        else:
            break
    unknown = re.search(r"unknown field `([^`]*)`", text)
    node = _node_at(root, tuple(path))
    if unknown and isinstance(node, MappingNode):
        node = _key_node(node, unknown.group(1)) or node
    return (_line(node), text)


def _key_node(node: MappingNode, name: str) -> Node | None:
    for key, _ in node.value:
        if isinstance(key, ScalarNode) and key.value == name:
            return typing.cast(Node, key)
    return None


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == part:
                return typing.cast(Node, value)
    if isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
        return typing.cast(Node, node.value[part])
    return None


def _node_at(root: Node, path: Path) -> Node:
    """The node at `path`, or its nearest ancestor present in the file."""
    node = root
    for part in path:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node


def _exact_node(root: Node, path: Path) -> Node | None:
    node: Node | None = root
    for part in path:
        node = _child(node, part) if node is not None else None
    return node


# --- pass 3: cross references -----------------------------------------------------------------


class _Entry(typing.NamedTuple):
    """A code dialled at the start of a number in some dial plan."""

    code: str
    label: str  # how a message names it, e.g. 'extension "201"'
    path: Path
    local: bool  # belongs to this customer (False: feature code or access code)


class _Checker:
    def __init__(self, config: SwitchConfig, root: Node) -> None:
        self._config = config
        self._root = root
        self._problems: list[Problem] = []

    def run(self) -> list[Problem]:
        self._check_customers_unique()
        self._check_global_codes()
        self._check_customer_groups()
        self._check_trunk_sources()
        self._check_trunk_transports()
        self._check_media()
        for index, customer in enumerate(self._config.customers):
            _CustomerChecker(self, customer, ("customers", index)).run()
        return self._problems

    # helpers shared with _CustomerChecker
    def line(self, path: Path) -> int:
        return _line(_node_at(self._root, path))

    def where(self, path: Path) -> str:
        node = _exact_node(self._root, path)
        return f" (line {_line(node)})" if node is not None else " (default)"

    def add(self, path: Path, message: str) -> None:
        self._problems.append((self.line(path), message))

    def global_entries(self) -> list[_Entry]:
        features = [
            _Entry(code, f'feature code {key} "{code}"', ("features", key), False)
            for key, code in self._config.features.codes()
        ]
        access = [
            _Entry(
                c.access_code,
                f'access code "{c.access_code}" of customer {c.name}',
                ("customers", i, "access_code"),
                False,
            )
            for i, c in enumerate(self._config.customers)
            if c.access_code is not None
        ]
        return features + access

    def unique(self, items: Iterable[tuple[str, Path]], what: str, fold: bool = False) -> None:
        first: dict[str, Path] = {}
        for value, path in items:
            key = value.lower() if fold else value
            if key in first:
                self.add(path, f"{what} {value!r} used twice{self.where(first[key])}")
            else:
                first[key] = path

    # global checks
    def _check_customers_unique(self) -> None:
        customers = list(enumerate(self._config.customers))
        self.unique(((c.name, ("customers", i, "name")) for i, c in customers), "customer name")
        self.unique(((c.domain, ("customers", i, "domain")) for i, c in customers), "domain", True)
        trunks = [
            (t.name, ("customers", i, "trunks", j, "name"))
            for i, c in customers
            for j, t in enumerate(c.trunks)
        ]
        self.unique(trunks, "trunk name")

    def _check_global_codes(self) -> None:
        for a, b in _prefix_pairs(self.global_entries()):
            if _is_access(a) != _is_access(b):
                here = a if _is_access(a) else b
            else:
                here = max(a, b, key=lambda e: self.line(e.path))
            other = b if here is a else a
            if a.code == b.code and _is_access(a) and _is_access(b):
                self.add(here.path, f'access code "{a.code}" used twice{self.where(other.path)}')
            else:
                self.add(here.path, _collision(here, other, self.where(other.path)))

    def _check_customer_groups(self) -> None:
        names = {c.name for c in self._config.customers}
        groups = list(enumerate(self._config.customer_groups))
        self.unique(((g.name, ("customer_groups", i, "name")) for i, g in groups), "group name")
        for i, group in groups:
            path: Path = ("customer_groups", i, "customers")
            self.unique(((n, (*path, j)) for j, n in enumerate(group.customers)), "customer")
            for j, name in enumerate(group.customers):
                if name not in names:
                    self.add(
                        (*path, j), f"customer group {group.name} names unknown customer {name!r}"
                    )

    def _check_trunk_sources(self) -> None:
        sources = [
            (f"{host}:{port}", ("customers", i, "trunks", j, "uri"))
            for i, c in enumerate(self._config.customers)
            for j, t in enumerate(c.trunks)
            for host, port, _ in (split_sip_uri(t.uri),)
        ]
        self.unique(sources, "trunk address")

    def _check_trunk_transports(self) -> None:
        # RFC 3261 §19.1: "A SIPS URI specifies that the resource be contacted securely.
        # This means, in particular, that TLS is to be used between the UAC and the domain
        # that owns the URI."  The switch has no TLS transport yet, so a sips: (or
        # transport=tls) trunk is refused rather than quietly reached over plain TCP.
        for i, c in enumerate(self._config.customers):
            for j, t in enumerate(c.trunks):
                problem = _trunk_transport_problem(t.uri)
                if problem is not None:
                    self.add(("customers", i, "trunks", j, "uri"), f"trunk {t.name}: {problem}")


    def _check_media(self) -> None:
        expires = self._config.server.session_expires
        if 0 < expires < 90:
            self.add(
                ("server", "session_expires"),
                f"session_expires {expires} is below 90 s, RFC 4028's smallest (0 turns it off)",
            )
        media = self._config.server.media
        if media.relay == "rtpengine" and media.rtpengine is None:
            self.add(
                ("server", "media", "relay"),
                "relay: rtpengine needs server.media.rtpengine (udp:HOST:PORT)",
            )


def _trunk_transport_problem(uri: str) -> str | None:
    """Why the switch cannot reach `uri` over UDP or TCP, or None when it can."""
    scheme, _, rest = uri.partition(":")
    params = rest.rpartition("@")[2].partition(";")[2]
    transports = [
        value.lower()
        for key, _, value in (p.partition("=") for p in params.split(";"))
        if key.lower() == "transport"
    ]
    if scheme.lower() == "sips" or "tls" in transports:
        return f"{uri} needs TLS: sips:/TLS is not supported yet (use sip: over udp or tcp)"
    for transport in transports:
        if transport not in ("udp", "tcp"):
            return f"transport={transport} is not supported (udp or tcp)"
    return None


def _is_access(entry: _Entry) -> bool:
    return entry.path[-1] == "access_code"


def _collision(here: _Entry, other: _Entry, where: str) -> str:
    if here.code == other.code:
        return f'duplicate number "{here.code}": {here.label} is also {other.label}{where}'
    if other.code.startswith(here.code):
        return f"{here.label} is a prefix of {other.label}{where}"
    return f"{here.label} starts with {other.label}{where}"


def _prefix_pairs(entries: Sequence[_Entry]) -> Iterator[tuple[_Entry, _Entry]]:
    """Every pair (a, b) where a's code equals or is a prefix of b's, in O(n log n + pairs)."""
    ordered = sorted(entries, key=lambda e: e.code)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if not b.code.startswith(a.code):
                break
            yield a, b


class _CustomerChecker:
    def __init__(self, top: _Checker, customer: Customer, path: Path) -> None:
        self.top = top
        self.c = customer
        self.path = path
        self.extensions = {e.number for e in customer.extensions}
        self.numbers = self.extensions | {g.number for g in customer.hunt_groups}
        self.numbers |= {g.number for g in customer.calling_groups}
        self.prefixes = tuple(t.outbound_prefix for t in customer.trunks if t.outbound_prefix)

    def run(self) -> None:
        c, p = self.c, self.path
        for what, key, names in (
            ("user group", "user_groups", [g.name for g in c.user_groups]),
            ("extension list", "extension_lists", [g.name for g in c.extension_lists]),
            ("pickup group", "pickup_groups", [g.name for g in c.pickup_groups]),
            ("hunt group", "hunt_groups", [g.name for g in c.hunt_groups]),
            ("calling group", "calling_groups", [g.name for g in c.calling_groups]),
        ):
            self.top.unique(
                ((n, (*p, key, i, "name")) for i, n in enumerate(names)), what + " name"
            )
        self._check_dial_plan()
        self._check_extensions()
        self._check_lists_and_pickup()
        self._check_groups()
        self._check_trunks()

    def _check_dial_plan(self) -> None:
        c = self.c
        entries = [*self.top.global_entries(), *self._local_entries()]
        for a, b in _prefix_pairs(entries):
            if not (a.local or b.local):
                continue
            if a.local and b.local:
                here = max(a, b, key=lambda e: self.top.line(e.path))
            else:
                here = a if a.local else b
            other = b if here is a else a
            message = _collision(here, other, self.top.where(other.path))
            self.top.add(here.path, f"{message} in the dial plan of customer {c.name}")

    def _local_entries(self) -> Iterator[_Entry]:
        """This customer's own dial-plan codes: extensions, group numbers, trunk prefixes."""
        c = self.c
        extensions = [(e.number, f'extension "{e.number}"') for e in c.extensions]
        yield from self._coded("extensions", "number", extensions)
        for key, what, groups in (
            ("hunt_groups", "hunt group", c.hunt_groups),
            ("calling_groups", "calling group", c.calling_groups),
        ):
            numbers = [(g.number, f'{what} {g.name} "{g.number}"') for g in groups]
            yield from self._coded(key, "number", numbers)
        prefixes = [
            (t.outbound_prefix, f'outbound_prefix "{t.outbound_prefix}" of trunk {t.name}')
            for t in c.trunks
        ]
        yield from self._coded("trunks", "outbound_prefix", prefixes)

    def _coded(
        self, key: str, field: str, coded: Sequence[tuple[str | None, str]]
    ) -> Iterator[_Entry]:
        """One entry per (code, label) of the list at `key`, pointing at its `field`."""
        for i, (code, label) in enumerate(coded):
            if code is not None:  # a trunk need not have an outbound prefix
                yield _Entry(code, label, (*self.path, key, i, field), True)

    def _check_extensions(self) -> None:
        user_groups = {g.name for g in self.c.user_groups}
        for i, ext in enumerate(self.c.extensions):
            path: Path = (*self.path, "extensions", i)
            if ext.user_group not in user_groups:
                self.top.add(
                    (*path, "user_group"),
                    f"extension {ext.number} names unknown user group {ext.user_group!r}",
                )
            self._check_coverage(ext.coverage, (*path, "coverage"))

    def _check_members(self, members: Sequence[str], path: Path, owner: str) -> None:
        self.top.unique(((m, (*path, j)) for j, m in enumerate(members)), f"{owner}: member")
        for j, member in enumerate(members):
            if member not in self.extensions:
                self.top.add((*path, j), f"{owner} names unknown extension {member!r}")

    def _check_lists_and_pickup(self) -> None:
        c, p = self.c, self.path
        for i, lst in enumerate(c.extension_lists):
            self._check_members(
                lst.extensions,
                (*p, "extension_lists", i, "extensions"),
                f"extension list {lst.name}",
            )
        lists = {lst.name for lst in c.extension_lists}
        features = self.top._config.features
        numbers = [
            (g.number, (*p, "pickup_groups", i, "number")) for i, g in enumerate(c.pickup_groups)
        ]
        self.top.unique(numbers, "pickup group number")
        numbering_at = self.top.where(("features", "pickup_numbering"))
        for i, group in enumerate(c.pickup_groups):
            path: Path = (*p, "pickup_groups", i)
            if group.extension_list not in lists:
                self.top.add(
                    (*path, "extension_list"),
                    f"pickup group {group.name} names unknown extension list "
                    f"{group.extension_list!r}",
                )
            if not features.pickup_number_allowed(group.number):
                self.top.add(
                    (*path, "number"),
                    f"pickup group number {group.number!r} is outside pickup_numbering "
                    f"{features.pickup_numbering!r}{numbering_at}",
                )
            if group.number in self.extensions:
                self.top.add(
                    (*path, "number"),
                    f"pickup group number {group.number!r} is also an extension: "
                    f"{features.pickup}{group.number} would be ambiguous",
                )

    def _check_groups(self) -> None:
        c, p = self.c, self.path
        for i, hunt in enumerate(c.hunt_groups):
            path: Path = (*p, "hunt_groups", i)
            self._check_members(hunt.members, (*path, "members"), f"hunt group {hunt.name}")
            if not hunt.members:
                self.top.add((*path, "members"), f"hunt group {hunt.name} has no members")
            if hunt.default is not None and hunt.default not in self.extensions:
                self.top.add(
                    (*path, "default"),
                    f"hunt group {hunt.name} default names unknown extension {hunt.default!r}",
                )
            if hunt.type == "dynamic" and hunt.password is None:
                self.top.add(path, f"dynamic hunt group {hunt.name} needs a password")
            self._check_coverage(hunt.coverage, (*path, "coverage"))
        for i, calling in enumerate(c.calling_groups):
            path = (*p, "calling_groups", i)
            self._check_members(
                calling.members, (*path, "members"), f"calling group {calling.name}"
            )
            if not calling.members:
                self.top.add((*path, "members"), f"calling group {calling.name} has no members")
            self._check_coverage(calling.coverage, (*path, "coverage"))

    def _check_coverage(self, coverage: Coverage | None, path: Path) -> None:
        if coverage is None:
            return
        for key in ("busy", "no_answer"):
            target = getattr(coverage, key)
            if target is not None:
                self._check_target(target, (*path, key), allow_trunk=True)

    def _check_target(self, target: str, path: Path, *, allow_trunk: bool) -> None:
        box = target.partition(":")[2] if target.startswith("voicemail:") else None
        if box is not None:
            if box not in self.extensions:
                self.top.add(path, f"{target!r} names unknown extension {box!r}")
            return
        if target == "voicemail" or target in self.numbers:
            return
        if allow_trunk and any(
            target.startswith(x) and len(target) > len(x) for x in self.prefixes
        ):
            return
        self.top.add(
            path, f"target {target!r} is not an extension or group of customer {self.c.name}"
        )

    def _check_trunks(self) -> None:
        for i, trunk in enumerate(self.c.trunks):
            for did, target in trunk.inbound.items():
                path: Path = (*self.path, "trunks", i, "inbound", did)
                if target == "voicemail":
                    self.top.add(
                        path, f"inbound {did!r} of trunk {trunk.name}: use voicemail:EXTENSION"
                    )
                else:
                    self._check_target(target, path, allow_trunk=False)
