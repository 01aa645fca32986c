"""Call pickup (`switch.routing.pickup.choose_pickup`): which ringing call a picker gets.

Behaviour (docs/BEHAVIOUR.md#call-pickup): `**` takes the most recent call ringing on any
extension of any pickup group the caller belongs to, `**`+group the most recent in that
group, `**`+extension that extension's; nothing to pick up is 404 and touches no other call.
Calls forked by hunt and calling groups ring on member extensions and can be picked up too.
(Which requests are allowed at all, 403 and friends, is in test_dialplan.py.)
"""

from __future__ import annotations

import pathlib

from hypothesis import given
from hypothesis import strategies as st

from config import parse_config
from switch.directory import Directory
from switch.routing import Caller, Pickup, Reject, RingingCall, choose_pickup, route

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "data" / "reference.yaml"

OTHER_YAML = """\
server:
  listen: [udp:127.0.0.1:5060]
features: {pickup: "*8", pickup_numbering: "4X"}
customers:
  - name: red
    domain: red.example
    user_groups: [{name: ops, allow_pickup: true}]
    extension_lists:
      - {name: desk, extensions: ["3001", "3002", "3003"]}
      - {name: back, extensions: ["3003", "3004"]}
    extensions:
      - {number: "3001", name: R1, password: p1, user_group: ops}
      - {number: "3002", name: R2, password: p2, user_group: ops}
      - {number: "3003", name: R3, password: p3, user_group: ops}
      - {number: "3004", name: R4, password: p4, user_group: ops}
      - {number: "3005", name: R5, password: p5, user_group: ops}
    pickup_groups:
      - {name: desk, number: "41", extension_list: desk}
      - {name: back, number: "42", extension_list: back}
    calling_groups:
      - {name: all, number: "600", members: ["3002", "3004", "3005"]}
  - name: blue
    domain: blue.example
    user_groups: [{name: ops, allow_pickup: true}]
    extension_lists:
      - {name: desk, extensions: ["3001", "3002"]}
    extensions:
      - {number: "3001", name: B1, password: b1, user_group: ops}
      - {number: "3002", name: B2, password: b2, user_group: ops}
    pickup_groups:
      - {name: desk, number: "41", extension_list: desk}
"""

D = Directory.build(parse_config(OTHER_YAML, "other.yaml"))


def pick(dialed: str, who: str, ringing: list[RingingCall], customer: str = "red") -> object:
    caller = Caller(customer, who)
    decision = route(dialed, caller, D)
    assert isinstance(decision, Pickup), decision
    return choose_pickup(decision, caller, D, ringing)


def ring(call_id: str, ext: str, at: float, customer: str = "red") -> RingingCall:
    return RingingCall(call_id, customer, ext, at, ("blue", "3001"))


def test_pickup_takes_the_most_recent_call_in_my_groups() -> None:
    ringing = [ring("old", "3001", 1.0), ring("new", "3002", 5.0), ring("mid", "3003", 3.0)]
    assert pick("*8", "3001", ringing) == "new"


def test_pickup_looks_into_every_group_i_am_in() -> None:
    """3003 is in both groups, 3001 only in desk: a call on 3004 (back) is 3003's to take."""
    ringing = [ring("desk", "3002", 1.0), ring("back", "3004", 2.0)]
    assert pick("*8", "3003", ringing) == "back"
    assert pick("*8", "3001", ringing) == "desk"


def test_group_pickup_takes_the_most_recent_call_of_that_group() -> None:
    ringing = [ring("desk", "3002", 1.0), ring("back", "3004", 2.0), ring("d2", "3001", 1.5)]
    assert pick("*841", "3003", ringing) == "d2"
    assert pick("*842", "3003", ringing) == "back"


def test_directed_pickup_takes_that_extensions_call() -> None:
    ringing = [ring("a", "3002", 1.0), ring("b", "3003", 9.0), ring("c", "3002", 4.0)]
    assert pick("*83002", "3001", ringing) == "c"


def test_nothing_to_pick_up_is_not_found() -> None:
    assert pick("*8", "3001", []) == Reject(404)
    # ringing outside my groups, or at another customer with the same numbers, is not mine
    ringing = [ring("x", "3005", 1.0), ring("y", "3002", 2.0, customer="blue")]
    assert pick("*8", "3001", ringing) == Reject(404)
    assert pick("*841", "3001", ringing) == Reject(404)
    assert pick("*83002", "3001", ringing) == Reject(404)


def test_a_caller_never_picks_up_its_own_call() -> None:
    mine = RingingCall("mine", "red", "3002", 5.0, ("red", "3001"))
    theirs = RingingCall("theirs", "red", "3003", 1.0, ("red", "3005"))
    assert pick("*8", "3001", [mine]) == Reject(404)
    assert pick("*8", "3001", [mine, theirs]) == "theirs"
    assert pick("*8", "3002", [mine, theirs]) == "mine"  # 3002 may take 3001's call


def test_calls_forked_by_a_calling_group_can_be_picked_up() -> None:
    """A calling group call rings on 3002, 3004 and 3005 at once: one call, three legs."""
    legs = [ring("group-call", ext, 2.0) for ext in ("3002", "3004", "3005")]
    assert pick("*8", "3001", legs) == "group-call"  # through 3002 (desk)
    assert pick("*842", "3003", legs) == "group-call"  # through 3004 (back)
    assert pick("*83004", "3003", legs) == "group-call"


def test_equal_times_take_the_later_listed_call() -> None:
    ringing = [ring("first", "3002", 1.0), ring("second", "3003", 1.0)]
    assert pick("*8", "3001", ringing) == "second"


def test_reference_pickup() -> None:
    d = Directory.build(parse_config(REFERENCE.read_text(), str(REFERENCE)))
    caller = Caller("acme", "203")
    ringing = [
        RingingCall("c1", "acme", "201", 1.0, ("globex", "201")),
        RingingCall("c2", "acme", "204", 2.0, ("globex", "202")),  # 204: not in sales-floor
        RingingCall("c3", "globex", "202", 3.0, None),
    ]
    for dialed in ("**", "**550", "**201"):
        decision = route(dialed, caller, d)
        assert isinstance(decision, Pickup)
        assert choose_pickup(decision, caller, d, ringing) == "c1"


EXTS = ["3001", "3002", "3003", "3004", "3005"]


@st.composite
def ringing_calls(draw: st.DrawFn) -> list[RingingCall]:
    calls = []
    for i in range(draw(st.integers(0, 8))):
        calls.append(
            RingingCall(
                f"call-{i}",
                draw(st.sampled_from(["red", "blue"])),
                draw(st.sampled_from(EXTS)),
                draw(st.floats(0, 100, allow_nan=False)),
                draw(st.none() | st.tuples(st.just("red"), st.sampled_from(EXTS))),
            )
        )
    return calls


@given(
    ringing_calls(),
    st.sampled_from(EXTS[:4]),
    st.sampled_from(["", "41", "42", *EXTS]),
)
def test_pickup_only_ever_takes_an_eligible_call(
    ringing: list[RingingCall], who: str, rest: str
) -> None:
    caller = Caller("red", who)
    decision = route("*8" + rest, caller, D)
    if not isinstance(decision, Pickup):
        assert isinstance(decision, Reject) and decision.status == 403
        return
    got = choose_pickup(decision, caller, D, ringing)
    groups = D.pickup_groups_of("red", who)
    eligible = [
        c
        for c in ringing
        if c.customer == "red"
        and c.caller != ("red", who)
        and any(c.extension in g.members for g in groups)
        and (
            decision.kind == "any"
            or (decision.kind == "extension" and c.extension == rest)
            or (
                decision.kind == "group"
                and any(c.extension in g.members for g in groups if g.number == rest)
            )
        )
    ]
    if not eligible:
        assert got == Reject(404)
        return
    chosen = next(c for c in reversed(ringing) if c.call_id == got and c in eligible)
    assert chosen.started_at == max(c.started_at for c in eligible)
