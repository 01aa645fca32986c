"""Call pickup (docs/PRODUCT.md, "Call pickup", "Pickup groups";
docs/BEHAVIOUR.md#call-pickup).

Two steps, both pure:

1. `pickup_request` (from `route()`): the pickup code alone, + pickup group number, or +
   extension is checked against the directory: `allow_pickup` on the caller's user group,
   membership of the named group, a shared group with the named extension. The result is a
   `Pickup` decision or a refusal.
2. `choose_pickup` (by the router, with what rings right now): which ringing call the picker
   gets. The router lists every extension ringing, including the legs a hunt or calling group
   forked, so group calls can be picked up too.

Pickup group numbers are identifiers inside `pickup_numbering`, only meaningful after the pickup
code; dialled alone they are not in the dial plan (404 there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

import msgspec

from ..directory import Directory
from .decisions import Caller, Pickup, Reject

__all__ = ["RingingCall", "choose_pickup", "pickup_request"]


class RingingCall(msgspec.Struct, frozen=True):
    """One call ringing on one extension (a call forked to several rings once per extension)."""

    call_id: str
    customer: str
    extension: str
    started_at: float
    """When it started ringing there; the largest is the most recent."""
    caller: tuple[str, str] | None = None
    """(customer, extension) of the phone making the call, when it is one of ours."""


def pickup_request(rest: str, caller: Caller, directory: Directory) -> Pickup | Reject:
    """`rest` is what follows the pickup code."""
    customer, picker = caller.customer, caller.extension
    if picker is None or not directory.allow_pickup(customer, picker):
        return Reject(403)
    if not rest:
        return Pickup("any", customer, None)
    if directory.features.pickup_number_allowed(rest):
        group = directory.pickup_group_by_number(customer, rest)
        if group is not None:
            if picker not in group.members:
                return Reject(403)
            return Pickup("group", customer, group.number)
    # The configuration checker keeps pickup group numbers and extensions apart, so a number
    # that is not a group here is read as an extension without ambiguity.
    if directory.extension(customer, rest) is not None:
        if not directory.share_pickup_group(customer, picker, rest):
            return Reject(403)
        return Pickup("extension", customer, rest)
    return Reject(404)


def _watched(decision: Pickup, caller: Caller, directory: Directory) -> frozenset[str]:
    """The extensions whose ringing calls this pickup may take."""
    match decision.kind:
        case "any":
            if caller.extension is None:
                return frozenset()
            groups = directory.pickup_groups_of(decision.customer, caller.extension)
            return frozenset(m for g in groups for m in g.members)
        case "group":
            group = directory.pickup_group_by_number(decision.customer, decision.target or "")
            return frozenset() if group is None else frozenset(group.members)
        case "extension":
            return frozenset() if decision.target is None else frozenset((decision.target,))
        case _:
            assert_never(decision.kind)


def choose_pickup(
    decision: Pickup, caller: Caller, directory: Directory, ringing: Sequence[RingingCall]
) -> str | Reject:
    """The call id the picker answers: the most recent call ringing on a watched extension
    (ties: the later one in `ringing`). 404 when there is none; no other call is touched.

    A call the picker itself is making is never offered to it.
    """
    watched = _watched(decision, caller, directory)
    me = (caller.customer, caller.extension) if caller.extension is not None else None
    best: RingingCall | None = None
    for call in ringing:
        if call.customer != decision.customer or call.extension not in watched:
            continue
        if me is not None and call.caller == me:
            continue
        if best is None or call.started_at >= best.started_at:
            best = call
    return Reject(404) if best is None else best.call_id
