"""Coverage paths (`switch.routing.coverage`), docs/PRODUCT.md CV-1/CV-2 and the failure
table of docs/BEHAVIOUR.md.

An extension follows its own coverage (none: 486 busy / 480 unavailable); a hunt group its
coverage else the default box; a calling group its coverage; and a call that reached a member
through a group follows the group's coverage, never the member's own.
"""

from __future__ import annotations

import pathlib

import pytest

from config import parse_config
from switch.directory import (
    CallingGroup,
    Directory,
    Extension,
    HuntGroup,
    ToNumber,
    ToVoicemail,
)
from switch.routing import (
    CoverageReason,
    OutboundTrunk,
    Reject,
    RingCallingGroup,
    RingExtension,
    RingHuntGroup,
    Voicemail,
    coverage_for,
    no_answer_seconds,
    resolve_target,
)

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "data" / "reference.yaml"

OTHER_YAML = """\
server:
  listen: [udp:127.0.0.1:5060]
features: {pickup: "*8", pickup_numbering: "4X", voicemail: "*9"}
customers:
  - name: red
    domain: red.example
    user_groups: [{name: ops}]
    extensions:
      - {number: "3001", name: R1, password: p1, user_group: ops, voicemail: true,
         coverage: {no_answer_seconds: 7, busy: "3002", no_answer: "voicemail"}}
      - {number: "3002", name: R2, password: p2, user_group: ops, voicemail: true,
         coverage: {no_answer: "620"}}
      - {number: "3003", name: R3, password: p3, user_group: ops, voicemail: true}
    hunt_groups:
      - {name: q, number: "510", members: ["3001", "3002"], ring_seconds: 4}
      - {name: h, number: "511", members: ["3001", "3003"], default: "3002",
         coverage: {busy: "voicemail:3001", no_answer: "3003"}}
    calling_groups:
      - {name: ring, number: "620", members: ["3003", "3001"], ring_seconds: 9,
         coverage: {no_answer: "voicemail"}}
      - {name: bare, number: "621", members: ["3001", "3002"]}
    trunks:
      - {name: red-out, uri: "sip:192.0.2.10:5060", outbound_prefix: "0"}
"""

REF = Directory.build(parse_config(REFERENCE.read_text(), str(REFERENCE)))
D = Directory.build(parse_config(OTHER_YAML, "other.yaml"))
REASONS: list[CoverageReason] = ["busy", "no_answer", "unavailable"]


def ext(d: Directory, customer: str, number: str) -> Extension:
    found = d.extension(customer, number)
    assert found is not None
    return found


def hunt(d: Directory, customer: str, number: str) -> HuntGroup:
    found = d.hunt_group(customer, number)
    assert found is not None
    return found


def calling(d: Directory, customer: str, number: str) -> CallingGroup:
    found = d.calling_group(customer, number)
    assert found is not None
    return found


# --- extensions ----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", REASONS)
def test_no_coverage_means_the_caller_is_refused(reason: CoverageReason) -> None:
    """Failures table: nothing registered / busy with no coverage -> 480 / 486 (router)."""
    assert coverage_for(reason, ext(REF, "acme", "201")) is None
    assert coverage_for(reason, ext(D, "red", "3003")) is None


def test_extension_follows_its_own_coverage() -> None:
    e = ext(D, "red", "3001")
    assert coverage_for("busy", e) == ToNumber(number="3002")
    assert coverage_for("no_answer", e) == ToVoicemail(box="3001")
    assert coverage_for("unavailable", e) == ToVoicemail(box="3001")
    ref = ext(REF, "acme", "209")
    assert coverage_for("busy", ref) == ToVoicemail(box="209")
    assert coverage_for("no_answer", ref) == ToVoicemail(box="209")


def test_extension_with_only_no_answer_coverage_is_busy_when_busy() -> None:
    e = ext(D, "red", "3002")
    assert coverage_for("busy", e) is None
    assert coverage_for("no_answer", e) == ToNumber(number="620")


# --- groups ----------------------------------------------------------------------------------


def test_hunt_group_without_coverage_goes_to_the_default_box() -> None:
    for reason in REASONS:
        assert coverage_for(reason, hunt(D, "red", "510")) == ToVoicemail(box="3002")
        assert coverage_for(reason, hunt(REF, "acme", "600")) == ToVoicemail(box="209")


def test_hunt_group_coverage_wins_over_the_default() -> None:
    g = hunt(D, "red", "511")
    assert coverage_for("busy", g) == ToVoicemail(box="3001")
    assert coverage_for("no_answer", g) == ToNumber(number="3003")
    assert coverage_for("no_answer", hunt(REF, "acme", "601")) == ToVoicemail(box="209")


def test_calling_group_follows_its_coverage() -> None:
    g = calling(D, "red", "620")
    assert coverage_for("no_answer", g) == ToVoicemail(box="3001")  # voicemail: last member's
    assert coverage_for("busy", g) == ToVoicemail(box="3001")
    assert coverage_for("no_answer", calling(REF, "acme", "700")) == ToVoicemail(box="209")
    for reason in REASONS:
        assert coverage_for(reason, calling(D, "red", "621")) is None


def test_a_member_reached_through_a_group_follows_the_groups_coverage() -> None:
    """CV-2: 3001's own coverage (busy -> 3002, no answer -> its box) is not used."""
    member = ext(D, "red", "3001")
    assert coverage_for("busy", member, via=hunt(D, "red", "511")) == ToVoicemail(box="3001")
    assert coverage_for("no_answer", member, via=hunt(D, "red", "511")) == ToNumber(number="3003")
    assert coverage_for("no_answer", member, via=calling(D, "red", "621")) is None
    assert coverage_for("busy", member, via=hunt(D, "red", "510")) == ToVoicemail(box="3002")
    # reference: 201 is in reception (700) and night-desk (601)
    alice = ext(REF, "acme", "201")
    assert coverage_for("no_answer", alice, via=calling(REF, "acme", "700")) == ToVoicemail(
        box="209"
    )


def test_no_answer_seconds() -> None:
    assert no_answer_seconds(ext(D, "red", "3001")) == 7
    assert no_answer_seconds(ext(D, "red", "3002")) == 20  # the schema default
    assert no_answer_seconds(ext(D, "red", "3003")) is None
    assert no_answer_seconds(ext(REF, "acme", "209")) == 20
    assert no_answer_seconds(hunt(D, "red", "510")) == 4
    assert no_answer_seconds(calling(D, "red", "620")) == 9
    assert no_answer_seconds(hunt(REF, "acme", "601")) == 8


# --- targets -----------------------------------------------------------------------------------


def test_targets_resolve_in_the_owners_dial_plan() -> None:
    assert resolve_target("red", ToVoicemail(box="3001"), D) == Voicemail("red", "3001")
    assert resolve_target("red", ToNumber(number="3002"), D) == RingExtension("red", "3002")
    assert resolve_target("red", ToNumber(number="510"), D) == RingHuntGroup("red", "510")
    assert resolve_target("red", ToNumber(number="620"), D) == RingCallingGroup("red", "620")
    assert resolve_target("red", ToNumber(number="0123"), D) == OutboundTrunk(
        "red", "red-out", "123"
    )
    assert resolve_target("red", ToNumber(number="999"), D) == Reject(404)
    assert resolve_target("red", ToVoicemail(box="999"), D) == Reject(404)
    assert resolve_target("acme", ToVoicemail(box="209"), REF) == Voicemail("acme", "209")
