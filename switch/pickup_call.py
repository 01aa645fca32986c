"""Call pickup on the wire (seeds 000 and 001): the picker answers someone else's ringing call.

Which call is picked is the pure `routing.pickup.choose_pickup` over every fork
ringing right now (direct calls, hunt and calling group legs alike). Carrying it
out: the ringing phones get CANCEL with "Call completed elsewhere", the original
caller's INVITE and the picker's INVITE are both answered by the switch with SDP
that points each at the other (offer_answer.bridge_offers), and the two dialogs
become the two sides of one call, so BYE and re-INVITE relay as in any call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .call import COMPLETED_ELSEWHERE, Call, CallPhase
from .leg import ForkState
from .offer_answer import bridge_offers
from .routing import Caller, Pickup, Reject, RingingCall, choose_pickup

if TYPE_CHECKING:
    from .core import Switch


class Pickups:
    def __init__(self, switch: Switch) -> None:
        self.switch = switch

    def ringing(self) -> list[RingingCall]:
        out: list[RingingCall] = []
        for call in self.switch.calls.values():
            if call.phase is not CallPhase.ALERTING:
                continue
            for fork in call.forks.values():
                if fork.callee is not None and fork.state in (ForkState.TRYING,
                                                              ForkState.RINGING):
                    out.append(RingingCall(call.call_id, fork.callee[0], fork.callee[1],
                                           fork.started_at, call.a.caller))
        return out

    def pick_up(self, picker: Call, decision: Pickup) -> None:
        sw = self.switch
        who = picker.a.caller
        if who is None:
            picker.reject(403, sw.now)
            return
        chosen = choose_pickup(decision, Caller(who[0], who[1]), sw.directory, self.ringing())
        if isinstance(chosen, Reject):
            # Nothing to pick up: 404, and no other call is touched.
            picker.reject(chosen.status, sw.now, chosen.reason)
            return
        target = sw.calls.get(chosen)
        if target is None or target.phase is not CallPhase.ALERTING:
            picker.reject(404, sw.now)
            return
        answers = bridge_offers(target.a.invite.body, picker.a.invite.body, sw.ids.session_id())
        if answers is None:
            picker.reject(488, sw.now)
            return
        to_caller, to_picker = answers
        self._join(target, picker, to_caller, to_picker)

    def _join(self, target: Call, picker: Call, to_caller: bytes, to_picker: bytes) -> None:
        sw = self.switch
        target.cancel_forks(sw.now, COMPLETED_ELSEWHERE)
        if target.timer is not None:
            target.timer.cancel()
        # The picker's INVITE transaction and dialog now belong to the target call.
        leg = picker.a
        sw.calls.pop(picker.call_id, None)
        picker.phase = CallPhase.ENDED
        sw.index_tx(leg.tx_id, target)
        target.b = leg
        if leg.caller is not None:
            sw.states.release(leg.caller, picker.call_id)
            sw.states.connect(leg.caller, target.call_id)
        target.answer_locally(to_caller, "application/sdp")
        target.answer_other(leg, to_picker)
        target.log.info("call.picked_up", picker=f"{leg.caller[1]}" if leg.caller else None)
