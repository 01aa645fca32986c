"""Call pickup on the wire: the picker answers someone else's ringing call.

Which call is picked is the pure `routing.pickup.choose_pickup` over every fork ringing
right now (direct calls, hunt and calling group legs alike; docs/PRODUCT.md, "Call
pickup"). Carrying it out: the ringing phones get CANCEL with "Call completed
elsewhere", the original caller's INVITE and the picker's INVITE are both answered by
the switch with SDP that points each at the other (`calls.offer_answer.bridge_offers`),
and the two dialogs become the two sides of one call, so BYE and re-INVITE relay as in
any call.
"""

from __future__ import annotations

from sipstack.ids import IdSource

from ..calls.call import Call, CallPhase
from ..calls.legs import ForkState
from ..calls.offer_answer import bridge_offers
from ..calls.ports import CallBook
from ..ports import DirectoryRef
from ..routing import Caller, Pickup, Reject, RingingCall, choose_pickup


class Pickups:
    def __init__(self, *, directory: DirectoryRef, calls: CallBook, ids: IdSource) -> None:
        self._directory = directory
        self._calls = calls
        self._ids = ids

    def ringing(self) -> list[RingingCall]:
        """Every fork ringing an extension right now, with when it started."""
        out: list[RingingCall] = []
        for call in self._calls.active_calls():
            if call.phase is not CallPhase.ALERTING:
                continue
            for fork in call.forks.values():
                callee = fork.callee
                if callee is not None and fork.state in (ForkState.TRYING, ForkState.RINGING):
                    out.append(
                        RingingCall(
                            call.call_id, callee[0], callee[1], fork.started_at, call.a.caller
                        )
                    )
        return out

    def pick_up(self, picker: Call, decision: Pickup, now: float) -> None:
        who = picker.a.caller
        if who is None:
            picker.reject(403, now)
            return
        directory = self._directory.current
        chosen = choose_pickup(decision, Caller(who[0], who[1]), directory, self.ringing())
        if isinstance(chosen, Reject):
            # Nothing to pick up: 404, and no other call is touched.
            picker.reject(chosen.status, now, chosen.reason)
            return
        target = self._calls.find(chosen)
        if target is None or target.phase is not CallPhase.ALERTING:
            picker.reject(404, now)
            return
        answers = bridge_offers(target.a.invite.body, picker.a.invite.body, self._ids.session_id())
        if answers is None:
            picker.reject(488, now)
            return
        to_caller, to_picker = answers
        # The picker's INVITE transaction and dialog now belong to the target call.
        picker.hand_over()
        self._calls.transfer_index(picker, target)
        target.take_over_picker(picker.a, to_caller, to_picker, now)
