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
from ..calls.line_state import ExtensionKey
from ..calls.offer_answer import bridge_offers
from ..calls.ports import CallBook
from ..ports import DirectoryRef
from ..routing import Caller, Pickup, Reject, RingingCall, choose_pickup
from ..routing.pickup import pickup_request


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
        self._take(picker, target, now)

    def replace(self, picker: Call, header: str, now: float) -> None:
        """An INVITE with Replaces (RFC 3891) naming the early dialog of a ringing phone:
        a busy lamp's key picking the call up, with the rights of the pickup code +
        that extension (a shared pickup group, `allow_pickup`), else 403.

        RFC 3891 §3: the to-tag is compared with our tag of that dialog (the From tag of
        our INVITE to the ringing phone); "If no match is found, the UAS rejects the
        INVITE and returns a 481"; a call another key picked up already: 486. Replacing
        an answered call (attended transfer) is not built yet: 501."""
        parsed = parse_replaces(header)
        who = picker.a.caller
        if parsed is None:
            picker.reject(400, now, "Bad Request (Replaces)")
            return
        if who is None:
            picker.reject(403, now)
            return
        call_id, our_tag = parsed
        for call in self._calls.active_calls():
            for fork in call.forks.values():
                if fork.invite.call_id != call_id or fork.invite.from_.tag != our_tag:
                    continue
                if fork is call.b and call.phase is CallPhase.ANSWERED:
                    picker.reject(501, now, "Not Implemented (Replaces of an answered call)")
                elif call.phase is not CallPhase.ALERTING or fork.callee is None:
                    picker.reject(486, now, "Busy Here (already picked up)")
                elif fork.state not in (ForkState.TRYING, ForkState.RINGING):
                    picker.reject(481, now)  # that phone stopped ringing
                else:
                    self._replace_early(picker, call, fork.callee, now)
                return
        picker.reject(481, now)

    def _replace_early(self, picker: Call, call: Call, callee: ExtensionKey, now: float) -> None:
        who = picker.a.caller
        assert who is not None
        if callee[0] != who[0]:
            picker.reject(403, now)  # another customer's call is never named to us
            return
        allowed = pickup_request(callee[1], Caller(who[0], who[1]), self._directory.current)
        if isinstance(allowed, Reject):
            picker.reject(allowed.status, now, allowed.reason)
            return
        self._take(picker, call, now)

    def _take(self, picker: Call, target: Call, now: float) -> None:
        """The picker's call answers `target`'s caller: each is answered with SDP that
        reaches the other, and the two INVITEs become the two sides of one call."""
        answers = bridge_offers(target.a.invite.body, picker.a.invite.body, self._ids.session_id())
        if answers is None:
            picker.reject(488, now)
            return
        to_caller, to_picker = answers
        # The picker's INVITE transaction and dialog now belong to the target call.
        picker.hand_over()
        self._calls.transfer_index(picker, target)
        target.take_over_picker(picker.a, to_caller, to_picker, now)


def parse_replaces(value: str) -> tuple[str, str] | None:
    """(call-id, to-tag) of a Replaces header (RFC 3891 §6.1: `callid *(; to-tag / from-tag
    / early-only / param)`); None when the call-id or the to-tag is missing."""
    call_id, *params = (part.strip() for part in value.split(";"))
    to_tag = None
    for param in params:
        name, _, tag = param.partition("=")
        if name.strip().lower() == "to-tag":
            to_tag = tag.strip()
    return (call_id, to_tag) if call_id and to_tag else None
