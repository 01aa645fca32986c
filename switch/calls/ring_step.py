"""What a call is ringing right now, and who decides what happens when that fails.

A ring step names the owner of the ringing (an extension, a hunt group, a calling
group, or None for a trunk), the customer whose dial plan placed it and how many
coverage hops led here. The feature that placed the step may give two hooks:
`on_all_failed` (every fork answered non-2xx: hunt on, or follow coverage) and
`on_ring_out` (the step's ring time ran out). Without them the caller gets the best
failure at once, and a ring-out follows the owner's no-answer coverage.
"""

from __future__ import annotations

from collections.abc import Callable

from ..directory import CallingGroup, Extension, HuntGroup

StepOwner = Extension | HuntGroup | CallingGroup | None
AllFailedHook = Callable[[list[int], float], bool]
RingOutHook = Callable[[float], None]


class RingStep:
    __slots__ = ("owner", "customer", "hops", "on_all_failed", "on_ring_out")

    def __init__(
        self,
        owner: StepOwner,
        customer: str,
        hops: int,
        *,
        on_all_failed: AllFailedHook | None = None,
        on_ring_out: RingOutHook | None = None,
    ) -> None:
        self.owner = owner
        self.customer = customer
        self.hops = hops
        self.on_all_failed = on_all_failed
        self.on_ring_out = on_ring_out

    def all_failed(self, statuses: list[int], now: float) -> bool:
        """Every fork of this step failed; True when the hook took the call on."""
        return self.on_all_failed is not None and self.on_all_failed(statuses, now)
