"""Coverage paths: where a call goes that is not answered (docs/PRODUCT.md, "Coverage paths";
docs/BEHAVIOUR.md#coverage).

* An extension follows its own `coverage`: `busy` when it is on a call, `no_answer` when it
  rings out or has nothing registered (a phone that is not there cannot answer either).
  No target: the caller hears 486 / 480.
* A hunt group always has somewhere to go ("calls are never missed"): its `coverage` where
  given, else the voicemail of `default` (the directory resolves `default_box` to the last
  member when `default` is absent).
* A calling group follows its `coverage`; without one the caller hears 480 / 486.
* A call that reached a member *through* a group follows the group's coverage, never the
  member's own (docs/PRODUCT.md, CV-2): pass the group as `via`.

For groups, `busy` means no member was free; the group's `busy` target is used when given, else
its `no_answer` one, because the group's coverage as a whole wins over the default mailbox.
"""

from __future__ import annotations

from typing import Literal, assert_never

from ..directory import (
    CallingGroup,
    Coverage,
    CoverageTarget,
    Directory,
    Extension,
    HuntGroup,
    ToNumber,
    ToVoicemail,
)
from .customers import outbound_decision
from .decisions import Reject, RouteDecision, Voicemail, ring

__all__ = [
    "CoverageOwner",
    "CoverageReason",
    "coverage_for",
    "no_answer_seconds",
    "resolve_target",
]

CoverageReason = Literal["busy", "no_answer", "unavailable"]
CoverageOwner = Extension | HuntGroup | CallingGroup


def coverage_for(
    reason: CoverageReason,
    owner: CoverageOwner,
    via: HuntGroup | CallingGroup | None = None,
) -> CoverageTarget | None:
    """Where a call to `owner` goes for `reason`; None: refuse it (486 busy, else 480).

    `via`: the group through which the call reached `owner`; its coverage replaces the
    member's own (docs/PRODUCT.md, CV-2).
    """
    covering: CoverageOwner = owner if via is None else via
    match covering:
        case Extension(coverage=coverage):
            return _extension_target(reason, coverage)
        case HuntGroup(coverage=coverage, default_box=box):
            target = _group_target(reason, coverage)
            if target is not None:
                return target
            return ToVoicemail(box=box) if box else None
        case CallingGroup(coverage=coverage):
            return _group_target(reason, coverage)
        case _:
            assert_never(covering)


def _extension_target(reason: CoverageReason, coverage: Coverage | None) -> CoverageTarget | None:
    if coverage is None:
        return None
    match reason:
        case "busy":
            return coverage.busy
        case "no_answer" | "unavailable":
            return coverage.no_answer
        case _:
            assert_never(reason)


def _group_target(reason: CoverageReason, coverage: Coverage | None) -> CoverageTarget | None:
    if coverage is None:
        return None
    match reason:
        case "busy":
            return coverage.busy if coverage.busy is not None else coverage.no_answer
        case "no_answer" | "unavailable":
            return coverage.no_answer
        case _:
            assert_never(reason)


def no_answer_seconds(owner: CoverageOwner) -> int | None:
    """How long `owner` rings before its no-answer coverage takes the call.

    An extension: its coverage's `no_answer_seconds` when a `no_answer` target exists, else None
    (no limit from the configuration; the router applies its own ring ceiling). A hunt group:
    `ring_seconds` per member. A calling group: `ring_seconds` for the whole group.
    """
    match owner:
        case Extension(coverage=coverage):
            if coverage is None or coverage.no_answer is None:
                return None
            return coverage.no_answer_seconds
        case HuntGroup(ring_seconds=seconds) | CallingGroup(ring_seconds=seconds):
            return seconds
        case _:
            assert_never(owner)


def resolve_target(
    customer: str,
    target: CoverageTarget,
    directory: Directory,
    *,
    allow_trunk: bool = True,
) -> RouteDecision:
    """The decision for a coverage (or trunk inbound) target of `customer`.

    A number is dialled in `customer`'s own plan: extension, hunt group or calling group, or
    (`allow_trunk`) `customer`'s own trunk prefix + number. Never another customer's trunk.
    """
    match target:
        case ToVoicemail(box=box):
            if directory.extension(customer, box) is None:
                return Reject(404)
            return Voicemail(customer, box)
        case ToNumber(number=number):
            dialable = directory.lookup(customer, number)
            if dialable is not None:
                return ring(dialable)
            if allow_trunk:
                out = outbound_decision(customer, number, directory)
                if out is not None:
                    return out
            return Reject(404)
        case _:
            assert_never(target)
