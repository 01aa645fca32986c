"""Hunt groups (`switch.routing.hunt`): order, round-robin cursor, availability, fallback.

Behaviour (docs/BEHAVIOUR.md#hunt-groups): `sequential` starts every call at the first
member; `round_robin` starts each call at the member after the one the previous call started
at. A member is skipped when on a call, blocked, unregistered or (dynamic) logged out. No
member free or answering: the group's coverage, else the voicemail of `default`, else of the
last member.
"""

from __future__ import annotations

import pathlib
from collections import Counter
from typing import Literal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from config import parse_config
from switch.directory import Coverage, Directory, HuntGroup, ToNumber, ToVoicemail
from switch.routing import (
    MemberSnapshot,
    availability,
    hunt_fallback,
    hunt_order,
    logs_out_on_ring_out,
    member_available,
)

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "data" / "reference.yaml"

OTHER_YAML = """\
server:
  listen: [udp:127.0.0.1:5060]
features: {pickup: "*8", pickup_numbering: "4X", hunt_login: "#1", hunt_logout: "#2",
           hunt_block: "#3", hunt_unblock: "#4", voicemail: "*9"}
customers:
  - name: red
    domain: red.example
    user_groups: [{name: ops}]
    extensions:
      - {number: "3001", name: R1, password: p1, user_group: ops, voicemail: true}
      - {number: "3002", name: R2, password: p2, user_group: ops, voicemail: true}
      - {number: "3003", name: R3, password: p3, user_group: ops, voicemail: true}
      - {number: "3004", name: R4, password: p4, user_group: ops, voicemail: true}
    hunt_groups:
      - {name: rr, number: "500", strategy: round_robin, members: ["3001", "3002", "3003"]}
      - {name: seq, number: "501", members: ["3003", "3001", "3002"], default: "3004"}
      - name: dyn
        number: "502"
        type: dynamic
        password: "1"
        members: ["3001", "3002"]
        coverage: {busy: "3004", no_answer: "voicemail"}
"""


def reference() -> Directory:
    return Directory.build(parse_config(REFERENCE.read_text(), str(REFERENCE)))


def other() -> Directory:
    return Directory.build(parse_config(OTHER_YAML, "other.yaml"))


def group(d: Directory, customer: str, number: str) -> HuntGroup:
    g = d.hunt_group(customer, number)
    assert g is not None
    return g


def everyone_free(g: HuntGroup) -> MemberSnapshot:
    members = frozenset(g.members)
    return MemberSnapshot(
        registered_numbers=members, logins=frozenset((g.number, m) for m in members)
    )


def run_calls(g: HuntGroup, status: MemberSnapshot, calls: int, cursor: int = 0) -> list[str]:
    """The member each of `calls` consecutive calls starts at ('-' when none is free)."""
    starts = []
    for _ in range(calls):
        order, cursor = hunt_order(g, cursor, availability(g, status))
        starts.append(order[0] if order else "-")
    return starts


# --- sequential ----------------------------------------------------------------------------


def test_sequential_always_starts_at_the_first_member() -> None:
    g = group(other(), "red", "501")
    status = everyone_free(g)
    assert hunt_order(g, 0, availability(g, status)) == (("3003", "3001", "3002"), 0)
    assert run_calls(g, status, 4) == ["3003"] * 4


def test_sequential_skips_a_busy_first_member() -> None:
    g = group(other(), "red", "501")
    status = MemberSnapshot(
        registered_numbers=frozenset(g.members), busy_numbers=frozenset({"3003"})
    )
    assert hunt_order(g, 0, availability(g, status))[0] == ("3001", "3002")


# --- round robin ---------------------------------------------------------------------------


def test_nine_round_robin_calls_over_three_free_members_start_three_times_at_each() -> None:
    for g in (group(reference(), "acme", "600"), group(other(), "red", "500")):
        starts = run_calls(g, everyone_free(g), 9)
        assert starts == list(g.members) * 3
        assert Counter(starts) == {m: 3 for m in g.members}


def test_round_robin_continues_down_the_list_and_wraps() -> None:
    g = group(reference(), "acme", "600")  # members 202, 203, 204
    free = availability(g, everyone_free(g))
    assert hunt_order(g, 0, free) == (("202", "203", "204"), 1)
    assert hunt_order(g, 1, free) == (("203", "204", "202"), 2)
    assert hunt_order(g, 2, free) == (("204", "202", "203"), 0)


def test_round_robin_skips_a_busy_member_without_spending_a_turn() -> None:
    """With 203 busy the call due to start at 203 starts at 204, and the next one after 204:
    the free members keep sharing the calls evenly."""
    g = group(reference(), "acme", "600")
    status = MemberSnapshot(
        registered_numbers=frozenset(g.members), busy_numbers=frozenset({"203"})
    )
    assert hunt_order(g, 1, availability(g, status)) == (("204", "202"), 0)
    assert run_calls(g, status, 6) == ["202", "204"] * 3


def test_round_robin_with_nobody_free_keeps_the_cursor() -> None:
    g = group(reference(), "acme", "600")
    assert hunt_order(g, 2, availability(g, MemberSnapshot())) == ((), 2)


def test_a_cursor_from_a_longer_list_still_works() -> None:
    g = group(reference(), "acme", "600")
    assert hunt_order(g, 7, availability(g, everyone_free(g)))[0][0] == "203"


# --- availability ------------------------------------------------------------------------


def test_each_reason_to_skip_a_member() -> None:
    static = group(reference(), "acme", "600")
    dynamic = group(reference(), "acme", "601")
    registered = frozenset({"201", "202", "203", "204"})
    ok = MemberSnapshot(registered_numbers=registered, logins=frozenset({("601", "201")}))
    assert member_available(static, "202", ok)
    assert member_available(dynamic, "201", ok)
    assert not member_available(dynamic, "204", ok)  # logged out of a dynamic group
    assert member_available(static, "204", ok)  # logins do not matter in a static group
    assert not member_available(static, "202", MemberSnapshot())  # nothing registered
    busy = MemberSnapshot(registered_numbers=registered, busy_numbers=frozenset({"202"}))
    assert not member_available(static, "202", busy)
    blocked = MemberSnapshot(registered_numbers=registered, blocked_numbers=frozenset({"202"}))
    assert not member_available(static, "202", blocked)


def test_dynamic_logins_are_per_group() -> None:
    d = other()
    dyn = group(d, "red", "502")
    status = MemberSnapshot(
        registered_numbers=frozenset({"3001", "3002"}), logins=frozenset({("500", "3001")})
    )
    assert hunt_order(dyn, 0, availability(dyn, status)) == ((), 0)


# --- fallback ------------------------------------------------------------------------------


def test_fallback_is_the_default_box() -> None:
    assert hunt_fallback(group(reference(), "acme", "600")) == ToVoicemail(box="209")
    assert hunt_fallback(group(other(), "red", "501")) == ToVoicemail(box="3004")


def test_fallback_without_default_is_the_last_members_box() -> None:
    assert hunt_fallback(group(other(), "red", "500")) == ToVoicemail(box="3003")


def test_group_coverage_wins_over_the_default() -> None:
    night = group(reference(), "acme", "601")
    assert night.default_box == "204"
    assert hunt_fallback(night, "no_answer") == ToVoicemail(box="209")
    assert hunt_fallback(night, "busy") == ToVoicemail(box="209")  # no busy target: no_answer's
    dyn = group(other(), "red", "502")
    assert hunt_fallback(dyn, "busy") == ToNumber(number="3004")
    assert hunt_fallback(dyn, "no_answer") == ToVoicemail(box="3002")  # voicemail = default box


def test_auto_logout() -> None:
    assert logs_out_on_ring_out(group(reference(), "acme", "601"))
    assert not logs_out_on_ring_out(group(reference(), "acme", "600"))
    assert not logs_out_on_ring_out(group(other(), "red", "502"))


# --- properties ----------------------------------------------------------------------------

NUMBERS = [str(n) for n in range(100, 108)]


@st.composite
def groups(draw: st.DrawFn) -> HuntGroup:
    members = tuple(draw(st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=6, unique=True)))
    kind: Literal["static", "dynamic"] = draw(st.sampled_from(["static", "dynamic"]))
    strategy: Literal["sequential", "round_robin"] = draw(
        st.sampled_from(["sequential", "round_robin"])
    )
    return HuntGroup(
        customer="c",
        name="g",
        number="900",
        strategy=strategy,
        type=kind,
        members=members,
        ring_seconds=5,
        default_box=members[-1],
        password="1" if kind == "dynamic" else None,
        auto_logout=False,
        coverage=draw(
            st.none() | st.just(Coverage(no_answer_seconds=5, busy=None, no_answer=None))
        ),
    )


subsets = st.frozensets(st.sampled_from(NUMBERS))


@st.composite
def snapshots(draw: st.DrawFn) -> MemberSnapshot:
    return MemberSnapshot(
        registered_numbers=draw(subsets),
        busy_numbers=draw(subsets),
        blocked_numbers=draw(subsets),
        logins=frozenset(("900", n) for n in draw(subsets)),
    )


@given(groups(), snapshots(), st.integers(min_value=0, max_value=50))
def test_a_hunt_never_offers_a_call_to_an_unavailable_member(
    g: HuntGroup, status: MemberSnapshot, cursor: int
) -> None:
    order, next_cursor = hunt_order(g, cursor, availability(g, status))
    for member in order:
        assert status.registered(member)
        assert not status.busy(member)
        assert not status.blocked(member)
        assert g.type == "static" or status.logged_in("900", member)
    # and every free member is offered, once
    assert sorted(order) == sorted(m for m in g.members if member_available(g, m, status))
    assert 0 <= next_cursor < max(len(g.members), cursor + 1)


@given(groups(), snapshots(), st.integers(min_value=0, max_value=50), st.integers(1, 4))
def test_round_robin_is_fair_over_free_members(
    g: HuntGroup, status: MemberSnapshot, cursor: int, rounds: int
) -> None:
    g = msgspec.structs.replace(g, strategy="round_robin")
    free = [m for m in g.members if member_available(g, m, status)]
    starts = run_calls(g, status, rounds * len(free), cursor)
    assert Counter(starts) == {m: rounds for m in free}
    # and starts rotate down the list: each call starts at the free member after the last start
    for before, after in zip(starts, starts[1:], strict=False):
        assert free[(free.index(before) + 1) % len(free)] == after


@given(groups(), snapshots())
def test_sequential_starts_at_the_first_free_member(g: HuntGroup, status: MemberSnapshot) -> None:
    g = msgspec.structs.replace(g, strategy="sequential")
    free = [m for m in g.members if member_available(g, m, status)]
    order, _ = hunt_order(g, 3, availability(g, status))
    assert list(order) == free
