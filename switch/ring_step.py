"""What a call is ringing right now: the record the router keeps on each call.

A ring step names who owns the ringing (an extension, a hunt group, a calling group,
or a trunk: None), the customer whose dial plan placed it, the hunt members still to
try, and how many coverage hops led here, so a failure or a timeout knows where the
call goes next (router.fall_back, hunting.next_member).
"""

from __future__ import annotations

from .directory import CallingGroup, Extension, HuntGroup


class RingStep:
    """What a call is ringing now, so a failure or timeout knows where to go next."""

    __slots__ = ("owner", "customer", "members", "member", "hops", "nobody_free")

    def __init__(self, owner: Extension | HuntGroup | CallingGroup | None, customer: str,
                 hops: int) -> None:
        self.owner = owner
        self.customer = customer
        self.members: list[str] = []  # hunt members still to try
        self.member: str | None = None  # the hunt member ringing now
        self.hops = hops
        self.nobody_free = False
