"""Directory: lookups over the reference configuration, and a property that nothing in it
depends on the reference's own names, numbers, codes, prefixes or addresses."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from config import load_config, parse_config
from switch.directory import (
    Coverage,
    CoverageTarget,
    Directory,
    ToNumber,
    ToVoicemail,
)

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "data" / "reference.yaml"


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.build(load_config(REFERENCE))


def test_customer_by_domain_is_case_insensitive(directory: Directory) -> None:
    acme = directory.customer_by_domain("ACME.Test")
    assert acme is not None and acme.name == "acme" and acme.access_code == "81"
    assert directory.customer_by_domain("nowhere.test") is None
    assert [c.name for c in directory.customers] == ["acme", "globex", "initech"]
    assert directory.customer("globex") == directory.customer_by_domain("globex.test")


def test_extensions_are_per_customer(directory: Directory) -> None:
    alice = directory.extension("acme", "201")
    gina = directory.extension("globex", "201")
    assert alice is not None and alice.name == "Alice" and alice.password == "alice-pw"
    assert gina is not None and gina.name == "Gina"
    assert directory.extension("acme", "0201") is None
    assert directory.extension("nobody", "201") is None
    assert len(directory.extensions("acme")) == 6


def test_extension_coverage_resolves_voicemail(directory: Directory) -> None:
    support = directory.extension("acme", "209")
    assert support is not None
    assert support.coverage == Coverage(
        no_answer_seconds=20, busy=ToVoicemail(box="209"), no_answer=ToVoicemail(box="209")
    )
    alice = directory.extension("acme", "201")
    assert alice is not None and alice.coverage is None and alice.voicemail


def test_hunt_groups(directory: Directory) -> None:
    support = directory.hunt_group("acme", "600")
    assert support is not None
    assert (support.strategy, support.type, support.members) == (
        "round_robin",
        "static",
        ("202", "203", "204"),
    )
    assert support.ring_seconds == 10 and support.default_box == "209" and support.coverage is None
    night = directory.hunt_group("acme", "601")
    assert night is not None and night.dynamic and night.password == "4321" and night.auto_logout
    assert night.default_box == "204"  # no default: the last member's voicemail
    assert night.coverage is not None and night.coverage.no_answer == ToVoicemail(box="209")
    assert directory.hunt_group("globex", "600") is None
    assert [g.number for g in directory.hunt_groups("acme")] == ["600", "601"]


def test_calling_group_and_lookup(directory: Directory) -> None:
    reception = directory.calling_group("acme", "700")
    assert reception is not None and reception.members == ("201", "202", "205")
    assert directory.lookup("acme", "700") == reception
    assert directory.lookup("acme", "600") == directory.hunt_group("acme", "600")
    assert directory.lookup("acme", "201") == directory.extension("acme", "201")
    assert directory.lookup("acme", "550") is None  # pickup group numbers are not dialable
    assert directory.lookup("acme", "999") is None


def test_pickup(directory: Directory) -> None:
    (sales,) = directory.pickup_groups_of("acme", "201")
    assert (sales.name, sales.number, sales.members) == ("sales", "550", ("201", "202", "203"))
    assert directory.pickup_groups_of("acme", "204") == ()
    assert directory.pickup_group_by_number("acme", "550") == sales
    assert directory.pickup_group_by_number("globex", "550") is None
    assert directory.share_pickup_group("acme", "201", "203")
    assert not directory.share_pickup_group("acme", "201", "204")
    assert directory.allow_pickup("acme", "201")
    assert not directory.allow_pickup("acme", "205")  # lobby
    assert not directory.allow_pickup("acme", "999")


def test_customer_groups_and_access_codes(directory: Directory) -> None:
    assert directory.customer_group_peers("acme") == frozenset({"globex"})
    assert directory.customer_group_peers("initech") == frozenset()
    assert directory.may_call_across("globex", "acme")
    assert not directory.may_call_across("acme", "initech")
    assert not directory.may_call_across("acme", "acme")
    initech = directory.customer_by_access_code("83")
    assert initech is not None and initech.name == "initech"
    assert directory.customer_by_access_code("8") is None


def test_trunks(directory: Directory) -> None:
    found = directory.trunk_by_source("127.0.0.1", 5090)
    assert found is not None
    customer, trunk = found
    assert customer.name == "acme" and trunk.name == "acme-pstn" and trunk.outbound_prefix == "9"
    assert trunk.inbound_target("+15550100") == ToNumber(number="700")
    assert trunk.inbound_target("+15550199") is None
    assert directory.trunk_by_source("127.0.0.1", 5060) is None
    assert directory.outbound_trunk("acme", "95551234") == (trunk, "5551234")
    assert directory.outbound_trunk("acme", "9") is None
    assert directory.outbound_trunk("acme", "05551234") is None  # globex's prefix, not acme's
    globex_trunk = directory.trunks("globex")[0]
    assert directory.outbound_trunk("globex", "05551234") == (globex_trunk, "5551234")


def test_directory_is_immutable(directory: Directory) -> None:
    with pytest.raises(AttributeError):
        directory.features = directory.features


def test_features(directory: Directory) -> None:
    assert directory.features.pickup == "**"
    assert directory.features.pickup_number_allowed("559")
    assert not directory.features.pickup_number_allowed("560")
    assert not directory.features.pickup_number_allowed("5500")


# --- property: consistent renaming ----------------------------------------------------------

NUMBER_KEYS = {"number", "access_code", "outbound_prefix", "default"}
NAME_KEYS = {"name", "user_group", "extension_list", "domain"}
Mapper = Callable[[str], str]


def _rename(data: Any, key: str | None, num: Mapper, name: Mapper, port: int) -> Any:
    if isinstance(data, dict):
        if key == "inbound":
            return {num(k): _target(v, num) for k, v in data.items()}
        if key == "features":
            return {k: num(v) for k, v in data.items()}
        return {k: _rename(v, k, num, name, port) for k, v in data.items()}
    if isinstance(data, list):
        return [_rename(v, key, num, name, port) for v in data]
    if not isinstance(data, str):
        return data
    if key in NUMBER_KEYS or key in ("members", "extensions"):
        return num(data)
    if key in NAME_KEYS or key == "customers":
        return name(data)
    if key in ("busy", "no_answer"):
        return _target(data, num)
    if key == "uri":
        return re.sub(r":(\d+)$", lambda m: f":{int(m.group(1)) + port}", data)
    return data


def _target(text: str, num: Mapper) -> str:
    if text.startswith("voicemail:"):
        return "voicemail:" + num(text.partition(":")[2])
    return text if text == "voicemail" else num(text)


def _cov_target(t: CoverageTarget | None, num: Mapper) -> object:
    if isinstance(t, ToVoicemail):
        return ("vm", num(t.box))
    if isinstance(t, ToNumber):
        return ("n", num(t.number))
    return None


def _cov(c: Coverage | None, num: Mapper) -> object:
    if c is None:
        return None
    return (c.no_answer_seconds, _cov_target(c.busy, num), _cov_target(c.no_answer, num))


def snapshot(d: Directory, num: Mapper, name: Mapper, port: int) -> object:
    """Everything the router can ask, with numbers and names passed through num/name."""
    out: list[object] = [tuple(num(code) for _, code in d.features.codes())]
    out.append(num(d.features.pickup_numbering))
    for c in d.customers:
        cn = c.name
        by_domain = d.customer_by_domain(c.domain.upper())
        by_code = d.customer_by_access_code(c.access_code) if c.access_code else None
        row: list[object] = [name(cn), name(c.domain), c.access_code and num(c.access_code)]
        row.append((by_domain == c, by_code == c if c.access_code else None))
        row.append(sorted(name(p) for p in d.customer_group_peers(cn)))
        for e in d.extensions(cn):
            assert d.lookup(cn, e.number) == e
            groups = sorted(name(g.name) for g in d.pickup_groups_of(cn, e.number))
            row.append((num(e.number), name(e.name), e.password, name(e.user_group)))
            row.append((e.allow_pickup, e.voicemail, _cov(e.coverage, num), groups))
        for h in d.hunt_groups(cn):
            assert d.hunt_group(cn, h.number) == h == d.lookup(cn, h.number)
            row.append((name(h.name), num(h.number), h.strategy, h.type, h.ring_seconds))
            row.append((tuple(num(m) for m in h.members), num(h.default_box), h.password))
            row.append((h.auto_logout, _cov(h.coverage, num)))
        for g in d.calling_groups(cn):
            assert d.calling_group(cn, g.number) == g == d.lookup(cn, g.number)
            row.append((name(g.name), num(g.number), tuple(num(m) for m in g.members)))
            row.append((g.ring_seconds, _cov(g.coverage, num)))
        for p in d.pickup_groups(cn):
            assert d.pickup_group_by_number(cn, p.number) == p
            row.append((name(p.name), num(p.number), tuple(num(m) for m in p.members)))
        for t in d.trunks(cn):
            found = d.trunk_by_source(t.host, t.port)
            assert found is not None and found[1] == t and found[0] == c
            prefix = t.outbound_prefix
            if prefix:
                assert d.outbound_trunk(cn, prefix + "123") == (t, "123")
            row.append((name(t.name), t.host, t.port - port, prefix and num(prefix)))
            row.append(tuple((num(k), _cov_target(v, num)) for k, v in t.inbound))
        out.append(row)
    return out


@settings(max_examples=40, deadline=None)
@given(
    digits=st.permutations("0123456789"),
    swap_star_hash=st.booleans(),
    prefix=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6),
    port=st.integers(min_value=1, max_value=5000),
)
def test_consistent_renaming_keeps_the_structure(
    digits: list[str], swap_star_hash: bool, prefix: str, port: int
) -> None:
    table = dict(zip("0123456789", digits, strict=True))
    if swap_star_hash:
        table.update({"*": "#", "#": "*"})
    back = {v: k for k, v in table.items()}

    def num(text: str) -> str:
        return "".join(table.get(ch, ch) for ch in text)

    def unnum(text: str) -> str:
        return "".join(back.get(ch, ch) for ch in text)

    def name(text: str) -> str:
        return prefix + text

    def unname(text: str) -> str:
        assert text.startswith(prefix)
        return text[len(prefix) :]

    original = yaml.safe_load(REFERENCE.read_text())
    renamed = _rename(original, None, num, name, port)
    config = parse_config(yaml.safe_dump(renamed, sort_keys=False), "renamed.yaml")
    before = Directory.build(load_config(REFERENCE))
    after = Directory.build(config)
    assert snapshot(after, unnum, unname, port) == snapshot(before, str, str, 0)
