"""Calling groups on the wire: every member's every contact rings at once; the first answer wins.

The others get CANCEL with "Call completed elsewhere" (the call engine does that for
any fork that loses). With nobody registered, or when the group's `ring_seconds` run
out, the group's coverage applies (docs/PRODUCT.md, "Calling groups").
"""

from __future__ import annotations

from ..calls.call import Call
from ..calls.ports import RingControl
from ..ports import DirectoryRef
from ..routing import RingCallingGroup


class CallingGroups:
    def __init__(self, *, directory: DirectoryRef, ringer: RingControl) -> None:
        self._directory = directory
        self._ringer = ringer

    def start(self, call: Call, decision: RingCallingGroup, hops: int, now: float) -> None:
        customer = decision.customer
        group = self._directory.current.calling_group(customer, decision.number)
        if group is None:
            call.reject(404, now)
            return
        members = [(customer, member) for member in group.members]
        self._ringer.ring_owner(call, group, customer, members, group.ring_seconds, hops, now)
