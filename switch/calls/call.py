"""Call: the B2BUA state machine joining one inbound leg to the outbound legs it rings.

ROUTING -> ALERTING (forks out) -> ANSWERED (one fork won) -> ENDED.
The call carries out a ring plan made elsewhere (routing/); it decides nothing
about who should ring, only how SIP moves between the legs:

* provisional and final responses of the winning fork are relayed to the caller;
* losing forks get CANCEL with `Reason: SIP;cause=200;text="Call completed
  elsewhere"` (RFC 3326) so phones do not log a missed call;
* in-dialog requests (BYE, re-INVITE, UPDATE, INFO...) are relayed between the
  two dialogs and their responses relayed back;
* an offer in the caller's INVITE lets us ACK the callee at once; a delayed offer
  (no SDP in the INVITE) waits for the caller's ACK, which carries the answer.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

import structlog

from sipstack.dialog import TARGET_REFRESH, Dialog
from sipstack.errors import ParseError, RemoteProtocolError
from sipstack.ids import IdSource
from sipstack.message import REASON_PHRASES, Request, Response, make_response
from sipstack.transport import Address, Transport

from ..media.relay import Side
from ..media.sdp import SdpError
from ..ports import MediaRelay, RelayParty
from ..timers import Timer
from .legs import ForkState, InboundLeg, OutboundLeg
from .line_state import ExtensionKey, ExtensionStates
from .media_path import MediaPath
from .refresher import RefreshedLeg, SessionRefresher
from .relay_headers import copy_end_to_end
from .ring_step import RingStep
from .session_timer import MIN_SE, min_se_of, requested_interval, too_small

# The longest session interval the switch agrees to when a callee's 422 asks for more
# (a day): beyond, the callee's Min-SE is refused like any other failure.
MAX_SESSION_INTERVAL = 86400

COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'
# What a dialog with the switch accepts (in-dialog requests are relayed to the other party).
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER, NOTIFY, MESSAGE"
# What the switch accepts outside a dialog: a 405 lists these, never the refused method
# (RFC 3261 §21.4.6: "a list of valid methods for the indicated address").
ALLOW_OUT_OF_DIALOG = "INVITE, ACK, CANCEL, OPTIONS, REGISTER, SUBSCRIBE"


class CallPhase(enum.Enum):
    ROUTING = "routing"
    ALERTING = "alerting"
    ANSWERED = "answered"
    ENDED = "ended"


class CallSip(Protocol):
    """The transaction layer as a call uses it (`sipstack.Endpoint`)."""

    def send_request(
        self, request: Request, destination: Address, transport: Transport, now: float
    ) -> str: ...
    def send_response(self, response: Response, now: float) -> None: ...
    def send_cancel(
        self, invite_tx_id: str, now: float, reason: str | None = None
    ) -> str | None: ...
    def send_ack(self, ack: Request, destination: Address, transport: Transport) -> None: ...


class CallHost(Protocol):
    """What a call needs from the switch around it: the wire, ids, line state, its index."""

    @property
    def sip(self) -> CallSip: ...
    @property
    def ids(self) -> IdSource: ...
    @property
    def lines(self) -> ExtensionStates: ...
    @property
    def relay(self) -> MediaRelay | None: ...
    @property
    def session_expires(self) -> int: ...

    def call_at(self, when: float, callback: Callable[[float], None]) -> Timer: ...

    def contact_for(self, transport: Transport) -> str: ...
    def index_tx(self, tx_id: str, call: Call) -> None: ...
    def index_dialog(self, key: tuple[str, str], call: Call) -> None: ...
    def call_ended(self, call: Call, now: float) -> None: ...


class LocalApp(Protocol):
    """A call answered by the switch itself; told when the call ends."""

    def close(self) -> None: ...
    def renegotiate(self, offer: bytes) -> bytes: ...
    def offer(self) -> bytes: ...
    def apply_answer(self, answer: bytes) -> None: ...


# passed(body, content_type, status, now): a message's body on its way to the other party,
# after the media relay (status 200), or b"" and the status the relay failed with
Passed = Callable[[bytes, str | None, int, float], None]


class Relay:
    """An in-dialog request relayed to the other side, waiting for its response."""

    __slots__ = ("source_request", "source_tx", "from_caller", "sent")

    def __init__(
        self, source_request: Request, source_tx: str, from_caller: bool, sent: Request
    ) -> None:
        self.source_request = source_request
        self.source_tx = source_tx
        self.from_caller = from_caller
        self.sent = sent


class Call:
    __slots__ = (
        "host",
        "a",
        "forks",
        "b",
        "phase",
        "relays",
        "pending_ack",
        "log",
        "answered_at",
        "timer",
        "step",
        "app",
        "started_at",
        "final_status",
        "ended_at",
        "end_reason",
        "caller_acked",
        "pending_caller_bye",
        "tx_ids",
        "dialog_keys",
        "awaiting_answer",
        "media",
        "offer_to_callees",
        "early_answer_by",
        "refresher",
    )

    def __init__(self, host: CallHost, a: InboundLeg, now: float) -> None:
        self.host = host
        self.a = a
        self.forks: dict[str, OutboundLeg] = {}
        self.b: OutboundLeg | InboundLeg | None = None
        self.phase = CallPhase.ROUTING
        self.relays: dict[str, Relay] = {}
        # (leg that must get the ACK, the INVITE it answers) for a delayed-offer 2xx
        self.pending_ack: tuple[bool, Request] | None = None
        self.log = structlog.get_logger("switch.call").bind(call_id=a.invite.call_id)
        self.answered_at: float | None = None
        self.started_at = now
        self.final_status: int | None = None  # what the caller's INVITE was answered with
        self.ended_at: float | None = None
        self.end_reason = ""
        # RFC 3261 §15: no BYE on the caller's dialog before its ACK for our 2xx arrived
        # (or the 2xx retransmission gave up); a BYE due earlier waits here.
        self.caller_acked = False
        self.pending_caller_bye = False
        # where the switch indexed this call, so it can be un-indexed without a scan
        self.tx_ids: list[str] = []
        self.dialog_keys: list[tuple[str, str]] = []
        self.timer: Timer | None = None  # the ring step's no-answer deadline
        self.step: RingStep | None = None  # what is ringing now (ringing.py, hunt groups)
        self.app: LocalApp | None = None  # the switch itself answers (voicemail, features)
        self.awaiting_answer = False  # our 200 to the caller carried an offer
        # every SDP between the parties passes here (through the media relay, if any)
        self.media = MediaPath(host.relay, a.invite.call_id)
        # the caller's offer as every fork gets it: the relay's, once anchored
        self.offer_to_callees = a.invite.body
        self.early_answer_by: OutboundLeg | None = None  # the fork answering on a.local_tag
        self.refresher = SessionRefresher(self, a.invite.call_id)  # RFC 4028 on both legs

    @property
    def call_id(self) -> str:
        return self.a.invite.call_id

    # -- ringing --------------------------------------------------------------------
    def anchor_offer(self, then: Callable[[float], None], now: float) -> None:
        """Put the caller's offer through the media relay before any phone rings: every
        fork, trunk and later hunt step is offered the relay's SDP. A relay that cannot
        carry it refuses the call (488 for the SDP, 503 for a relay that is down)."""
        sdp = _sdp_of(self.a.invite)
        if not sdp or not self.media.relayed:
            then(now)
            return

        def anchored(body: bytes, status: int, at: float) -> None:
            if self.phase is not CallPhase.ROUTING:
                return  # the caller gave up meanwhile
            if status != 200:
                self.reject(status, at, _media_failure(status))
                return
            self.offer_to_callees = body
            then(at)

        self.media.carry(self._party(True), sdp, True, anchored, now)

    def ring(self, fork: OutboundLeg, now: float) -> None:
        """Send one more fork (a contact of a callee) and track it."""
        (dest, transport) = fork.peer
        fork.tx_id = self.host.sip.send_request(fork.invite, dest, transport, now)
        self.forks[fork.tx_id] = fork
        self.host.index_tx(fork.tx_id, self)
        if fork.callee is not None:
            self.host.lines.ring(fork.callee, self.call_id)
        if self.phase is CallPhase.ROUTING:
            self.phase = CallPhase.ALERTING
        self.log.info("call.fork", callee=_ext(fork.callee), contact=str(fork.invite.uri))

    def cancel_forks(self, now: float, reason: str | None, keep: OutboundLeg | None = None) -> None:
        for fork in self.forks.values():
            if fork is keep or fork.state not in (ForkState.TRYING, ForkState.RINGING):
                continue
            fork.state = ForkState.CANCELLING
            self.host.sip.send_cancel(fork.tx_id, now, reason)
            if fork.callee is not None:
                self.host.lines.stop_ringing(fork.callee, self.call_id)

    def active_forks(self) -> list[OutboundLeg]:
        return [f for f in self.forks.values() if f.state in (ForkState.TRYING, ForkState.RINGING)]

    # -- responses from the callee side ---------------------------------------------------
    def on_response(self, tx_id: str, response: Response, now: float) -> None:
        if self.refresher.owns(tx_id):
            self.refresher.on_response(tx_id, response, now)
            return
        fork = self.forks.get(tx_id)
        if fork is not None and response.cseq.method == "INVITE":
            self._on_fork_response(fork, response, now)
            return
        relay = self.relays.get(tx_id)
        if relay is not None:
            if response.status >= 200:
                del self.relays[tx_id]
            self._relay_response(relay, response, now)

    def _on_fork_response(self, fork: OutboundLeg, response: Response, now: float) -> None:
        status = response.status
        if status < 200:
            if status == 100:
                return
            if fork.state is ForkState.TRYING:
                fork.state = ForkState.RINGING
            if self.phase is CallPhase.ALERTING and fork.state is ForkState.RINGING:
                self._provisional_to_caller(fork, response, now)
            return
        if status < 300:
            self._on_fork_answered(fork, response, now)
            return
        if status == 422 and self._retry_with_min_se(fork, response, now):
            return
        fork.last_status = status
        was_cancelled = fork.state is ForkState.CANCELLING
        fork.state = ForkState.FAILED
        if fork.callee is not None:
            self.host.lines.stop_ringing(fork.callee, self.call_id)
        if was_cancelled or self.phase is not CallPhase.ALERTING:
            return
        if status >= 600:
            # RFC 3261 §16.7: a 6xx ends the search; the other branches are cancelled
            self.cancel_forks(now, None)
        if not self.active_forks():
            # forks of earlier ring steps that we cancelled do not speak for this one
            statuses = [
                f.last_status
                for f in self.forks.values()
                if f.state is ForkState.FAILED and f.last_status >= 300
            ]
            step = self.step
            if step is None or not step.all_failed(statuses, now):
                self.reject(best_failure(statuses), now)

    def _retry_with_min_se(self, fork: OutboundLeg, response: Response, now: float) -> bool:
        """RFC 4028 §7.4: "If a 422 response is received, the UAC MAY retry the request
        with a Session-Expires ... not less than the Min-SE from the 422" (a carrier whose
        Min-SE is above `server.session_expires`). Once per fork: the same INVITE with the
        next CSeq and the callee's interval."""
        asked = requested_interval(fork.invite) or 0
        min_se = min_se_of(response)
        if self.phase is not CallPhase.ALERTING or fork.state is ForkState.CANCELLING:
            return False
        if min_se is None or min_se <= asked or min_se > MAX_SESSION_INTERVAL:
            return False
        invite = fork.invite
        headers = [
            (name, value)
            for name, value in invite.headers
            # our Via of the first try is the endpoint's to add anew (a new transaction)
            if name not in ("via", "cseq", "session-expires", "min-se")
        ]
        headers += [
            ("cseq", f"{invite.cseq.seq + 1} INVITE"),
            ("session-expires", str(min_se)),
            ("min-se", str(min_se)),
        ]
        retry = Request("INVITE", invite.uri, headers, invite.body)
        dest, transport = fork.peer
        del self.forks[fork.tx_id]
        fork.invite = retry
        fork.tx_id = self.host.sip.send_request(retry, dest, transport, now)
        self.forks[fork.tx_id] = fork
        self.host.index_tx(fork.tx_id, self)
        self.log.info("call.session_interval_raised", min_se=min_se, callee=_ext(fork.callee))
        return True

    def _provisional_to_caller(self, fork: OutboundLeg, response: Response, now: float) -> None:
        """A fork's 18x to the caller on that fork's early dialog; its early media SDP
        through the relay (one that cannot be carried is left out, the 18x still goes)."""
        status, reason = response.status, response.reason
        tag = self._caller_tag(fork, answering=bool(response.body))

        def send(body: bytes, content_type: str | None, _status: int, at: float) -> None:
            if self.phase is CallPhase.ALERTING and fork.state is ForkState.RINGING:
                self._send_to_caller(status, reason, at, tag, body, content_type)

        offer = not self.offer_to_callees
        self._through(self._fork_party(fork, response), response, offer, send, now)

    def _caller_tag(self, fork: OutboundLeg, *, answering: bool) -> str:
        """The To tag the caller sees `fork`'s responses with.

        Ringing without SDP from every fork shares the caller's one dialog (the tag the
        caller's leg was made with), as one phone ringing would. An answer (a 18x with
        early media, or the 2xx) must stay the one answer of its dialog (RFC 3261
        §13.2.1: a provisional may carry only "that same exact answer"): the first fork
        that answers takes the shared dialog, any later one an early dialog of its own
        (§12.1, as behind a forking proxy), and keeps it for its 2xx."""
        if fork.caller_tag:
            return fork.caller_tag
        if not answering:
            return self.a.local_tag
        if self.early_answer_by is None:
            self.early_answer_by = fork
            fork.caller_tag = self.a.local_tag
        else:
            fork.caller_tag = self.host.ids.tag()
        return fork.caller_tag

    def _on_fork_answered(self, fork: OutboundLeg, response: Response, now: float) -> None:
        if fork is self.b and fork.dialog is not None and response.to.tag == fork.dialog.remote_tag:
            # The winner retransmitting its 2xx (RFC 3261 §13.3.1.4): the endpoint
            # re-sends our ACK once we have sent one; a delayed-offer ACK is still waiting
            # for the caller's answer. Either way this is not a new fork.
            return
        dialog = Dialog.as_uac(fork.invite, response)
        if self.phase is not CallPhase.ALERTING or fork.state is ForkState.FAILED:
            # A second 2xx (a fork that answered as we cancelled it): ACK and hang it up.
            self._ack_and_bye(fork, dialog, response, now)
            return
        fork.dialog = dialog
        fork.state = ForkState.ANSWERED
        self.b = fork
        self.phase = CallPhase.ANSWERED
        self.answered_at = now
        self.host.index_dialog(dialog.key, self)
        self.refresher.answered(fork, response)
        self.refresher.refreshed(fork, now)
        if self.a.invite.body:
            self._send_ack(fork, dialog, response.cseq.seq, b"", None)
        else:
            self.pending_ack = (False, fork.invite)
        self.cancel_forks(now, COMPLETED_ELSEWHERE, keep=fork)
        if fork.callee is not None:
            self.host.lines.connect(fork.callee, self.call_id)
        if self.a.caller is not None:
            self.host.lines.answered(self.a.caller, self.call_id)
        self._answer_caller(fork, response, now)
        self.log.info("call.answered", callee=_ext(fork.callee))

    def _ack_and_bye(
        self, fork: OutboundLeg, dialog: Dialog, response: Response, now: float
    ) -> None:
        self._send_ack(fork, dialog, response.cseq.seq, b"", None)
        bye = dialog.create_request("BYE")
        dest, transport = fork.peer
        self.host.sip.send_request(bye, dest, transport, now)

    def _send_ack(
        self,
        leg: OutboundLeg | InboundLeg,
        dialog: Dialog,
        seq: int,
        body: bytes,
        content_type: str | None,
    ) -> None:
        ack = dialog.create_request("ACK", body, content_type, cseq=seq)
        if body:
            leg.refresh.last_sdp = body
        dest, transport = leg.peer
        self.host.sip.send_ack(ack, dest, transport)

    # -- towards the caller -----------------------------------------------------------
    def _send_to_caller(
        self,
        status: int,
        reason: str,
        now: float,
        tag: str | None = None,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> None:
        a = self.a
        tag = tag or a.local_tag
        response = make_response(a.invite, status, reason, to_tag=tag)
        if status > 100:
            response.add("contact", self.host.contact_for(a.peer[1]))
        if 200 <= status < 300:
            response.add("allow", ALLOW)  # RFC 3261 §13.3.1.4: the 2xx SHOULD list them
        if body:
            response.add("content-type", content_type or "application/sdp")
            response.body = body
        if 200 <= status < 300:
            self.refresher.answering(a, a.invite, response)
        if status >= 200:
            a.final_sent = True
            self.final_status = status
        elif tag not in a.early_tags and status > 100:
            # The tagged provisional creates one of the caller's early dialogs (§12.1): a
            # BYE on it must find this call.
            a.early_tags.add(tag)
            self.host.index_dialog((self.call_id, tag), self)
        self.host.sip.send_response(response, now)
        if 200 <= status < 300:
            self._confirmed(a, body, now)

    def _answer_caller(self, fork: OutboundLeg, response: Response, now: float) -> None:
        """The winning fork's 2xx confirms the caller's early dialog of that fork (§13.2.2.4:
        the other early dialogs end with it)."""
        a = self.a
        a.local_tag = self._caller_tag(fork, answering=True)
        a.dialog = Dialog.as_uas(a.invite, a.local_tag, self.host.contact_for(a.peer[1]))
        self.host.index_dialog(a.dialog.key, self)

        def send(body: bytes, content_type: str | None, status: int, at: float) -> None:
            if self.phase is not CallPhase.ANSWERED or self.a.final_sent:
                return
            if status == 200:
                self._send_to_caller(200, "OK", at, None, body, content_type)
                self.media.watch(self._media_stopped)
                return
            # the relay cannot carry the answer: the caller is refused, the callee
            # (answered already) gets its ACK and a BYE
            self.log.warning("call.media_failed", status=status)
            self._send_to_caller(status, _media_failure(status), at)
            self._abandon_callee(fork, at)

        offer = not self.offer_to_callees
        self._through(self._fork_party(fork, response), response, offer, send, now)

    def _abandon_callee(self, fork: OutboundLeg, now: float) -> None:
        dialog = fork.dialog
        if dialog is not None:
            if self.pending_ack is not None and not self.pending_ack[0]:
                self.pending_ack = None
                self._send_ack(fork, dialog, fork.invite.cseq.seq, b"", None)
            self._send_bye(fork, now)
        self.end(f"rejected {self.final_status}", now)

    def answer_locally(
        self, body: bytes, content_type: str | None, now: float, app: LocalApp | None = None
    ) -> None:
        """Answer the caller from the switch itself (pickup, feature codes, voicemail);
        `app` is the media session that is now the other party."""
        self.phase = CallPhase.ANSWERED
        self.answered_at = now
        self.app = app
        if app is not None:
            self.media.release(now)  # the switch's own media: the relay's ports are unused
        # our 200 carries an offer when the INVITE had none: the ACK brings the answer
        self.awaiting_answer = app is not None and not self.a.invite.body
        self._answer_inbound(self.a, body, content_type, now)

    def take_over_picker(
        self, picker: InboundLeg, to_caller: bytes, to_picker: bytes, now: float
    ) -> None:
        """Call pickup: the ringing forks stop and the picker's INVITE becomes this call's
        other side; the switch answers the caller's offer and the picker's, each with
        media that reaches the other (features/pickup.py chose the call and the SDP)."""
        self.cancel_forks(now, COMPLETED_ELSEWHERE)
        self.stop_ring_timer()
        self.b = picker
        if picker.caller is not None:
            self.host.lines.connect(picker.caller, self.call_id)
        self.phase = CallPhase.ANSWERED
        if self.a.caller is not None:
            self.host.lines.answered(self.a.caller, self.call_id)
        # `to_caller` names the picker's media, `to_picker` the caller's: through the
        # relay, each party learns the relay's address and the relay the other's
        picker_party = self._party(False)

        def to_the_caller(body: bytes, status: int, at: float) -> None:
            if status != 200:
                if not self.a.final_sent:
                    self._send_to_caller(status, _media_failure(status), at)
                if not picker.final_sent:
                    self._answer_inbound_failure(picker, status, at)
                self.end(f"rejected {status}", at)
            elif self.phase is CallPhase.ANSWERED:
                self.answer_locally(body, "application/sdp", at)

        def to_the_picker(body: bytes, status: int, at: float) -> None:
            if picker.final_sent:
                return
            if status != 200:
                # the caller is answered already: it gets BYE, the picker the failure
                self._answer_inbound_failure(picker, status, at)
                self.hang_up(at, from_caller=False, why="media relay failed")
            elif self.phase is CallPhase.ANSWERED:
                self._answer_inbound(picker, body, "application/sdp", at)
                self.media.watch(self._media_stopped)

        self.media.carry(picker_party, to_caller, False, to_the_caller, now)
        self.media.carry(self._party(True), to_picker, False, to_the_picker, now)
        self.log.info("call.picked_up", picker=picker.caller[1] if picker.caller else None)

    def hand_over(self) -> None:
        """This call's caller now belongs to another call (it picked that call up): this
        one is over without a record of its own, its line state moved with the leg."""
        self.phase = CallPhase.ENDED
        self.stop_ring_timer()
        if self.a.caller is not None:
            self.host.lines.release(self.a.caller, self.call_id)

    # -- ring steps (calls/ringing.py and the group features place them) ---------------
    def begin_step(self, step: RingStep) -> None:
        self.step = step

    def set_ring_timer(self, timer: Timer) -> None:
        self.stop_ring_timer()
        self.timer = timer

    def stop_ring_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _answer_inbound(
        self, leg: InboundLeg, body: bytes, content_type: str | None, now: float
    ) -> None:
        """200 OK with our own SDP on an inbound leg; its UAS dialog joins this call."""
        contact = self.host.contact_for(leg.peer[1])
        leg.dialog = Dialog.as_uas(leg.invite, leg.local_tag, contact)
        self.host.index_dialog(leg.dialog.key, self)
        response = make_response(leg.invite, 200, "OK", to_tag=leg.local_tag)
        response.add("contact", contact)
        response.add("allow", ALLOW)
        if body:
            response.add("content-type", content_type or "application/sdp")
            response.body = body
        self.refresher.answering(leg, leg.invite, response)
        leg.final_sent = True
        if leg is self.a:
            self.final_status = 200
        self.host.sip.send_response(response, now)
        self._confirmed(leg, body, now)

    def _confirmed(self, leg: InboundLeg | OutboundLeg, sdp: bytes, now: float) -> None:
        """Our 2xx on `leg` confirmed (or refreshed) its session, with `sdp` if any."""
        if sdp:
            leg.refresh.last_sdp = sdp
        self.refresher.refreshed(leg, now)

    def _answer_inbound_failure(self, leg: InboundLeg, status: int, now: float) -> None:
        response = make_response(leg.invite, status, _media_failure(status), to_tag=leg.local_tag)
        leg.final_sent = True
        self.host.sip.send_response(response, now)

    def reject(self, status: int, now: float, reason: str | None = None) -> None:
        """Final non-2xx to the caller; the call is over."""
        if status < 300:
            status = 500  # never a provisional or success as a refusal
        if not self.a.final_sent:
            self._send_to_caller(status, reason or _reason(status), now)
        self.cancel_forks(now, None)
        self.end(f"rejected {status}", now)

    def on_caller_cancel(self, now: float, reason: str | None = None) -> None:
        """The caller's CANCEL (the endpoint already said 200 to it): 487, cancel every fork.

        The caller's own Reason (RFC 3326), e.g. "call completed elsewhere" from a forking
        proxy in front of it, is passed on so the phones do not log a missed call."""
        if self.phase in (CallPhase.ANSWERED, CallPhase.ENDED):
            return
        self.cancel_forks(now, reason)
        if not self.a.final_sent:
            self._send_to_caller(487, "Request Terminated", now)
        self.end("caller cancelled", now)

    # -- in-dialog requests ---------------------------------------------------------------
    def on_request(
        self, request: Request, tx_id: str | None, from_caller: bool, now: float
    ) -> None:
        mine = self.a.dialog if from_caller else (self.b.dialog if self.b else None)
        if from_caller and mine is not None and request.to.tag != self.a.local_tag:
            # an early dialog of a fork that lost: it ended with the winner's 2xx
            if request.method != "ACK":
                self._answer(request, 481, "Call/Transaction Does Not Exist", now)
            return
        if mine is None:
            if from_caller and request.method != "ACK":
                assert tx_id is not None
                self._on_early_request(request, now)
            return
        if request.method == "ACK":
            if from_caller and request.cseq.seq == self.a.invite.cseq.seq:
                self._caller_acked(now)
            if self.phase is not CallPhase.ENDED:
                if from_caller:
                    self._on_caller_ack(request)
                self._on_ack(request, from_caller, now)
            return
        assert tx_id is not None
        if self.phase is CallPhase.ENDED:
            # RFC 3261 §12.2.2: the dialog is gone. A crossed BYE is simply confirmed.
            if request.method == "BYE":
                self._answer(request, 200, "OK", now)
            else:
                self._answer(request, 481, "Call/Transaction Does Not Exist", now)
            return
        try:
            mine.check_remote_cseq(request)
        except RemoteProtocolError as exc:
            self._answer(request, exc.status_hint, str(exc), now)
            return
        if request.method == "BYE":
            self._answer(request, 200, "OK", now)
            self.hang_up(now, from_caller=from_caller)
            return
        if request.method in ("INVITE", "UPDATE") and too_small(request):
            # RFC 4028 §9: "the UAS MUST reject it with a 422 ... and a Min-SE"
            self._answer(request, 422, "Session Interval Too Small", now, [("min-se", str(MIN_SE))])
            return
        if request.method == "UPDATE" and not request.body and self.refresher.enabled:
            self._refresh_locally(request, from_caller, now)
            return
        self._relay_request(request, tx_id, from_caller, now)

    def _refresh_locally(self, request: Request, from_caller: bool, now: float) -> None:
        """An UPDATE without a body changes no media: it refreshes the sender's session
        timer and remote target (RFC 3311 §5.1, RFC 4028 §9). Each leg has its own timer,
        so the switch answers it; the other party has nothing to learn from it."""
        leg = self.a if from_caller else self.b
        if leg is None or leg.dialog is None:
            self._answer(request, 481, "Call/Transaction Does Not Exist", now)
            return
        leg.dialog.update_target(request)
        response = make_response(request, 200, "OK")
        response.add("contact", leg.dialog.local_contact)
        self.refresher.answering(leg, request, response)
        self.host.sip.send_response(response, now)
        self._confirmed(leg, b"", now)

    def _on_early_request(self, request: Request, now: float) -> None:
        """A request on the caller's early dialog (our tagged 18x made one).

        RFC 3261 §15: "the caller's UA MAY send a BYE for either confirmed or early
        dialogs"; the callee side stops ringing as for a CANCEL, and the INVITE gets 487
        (§15.1.2: "the UAS MUST still respond to any pending requests received for that
        dialog")."""
        if request.method == "BYE" and self.phase in (CallPhase.ROUTING, CallPhase.ALERTING):
            self._answer(request, 200, "OK", now)
            self.cancel_forks(now, None)
            if not self.a.final_sent:
                self._send_to_caller(487, "Request Terminated", now)
            self.end("caller hung up early", now)
            return
        self._answer(request, 481, "Call/Transaction Does Not Exist", now)

    def _on_ack(self, ack: Request, from_caller: bool, now: float) -> None:
        if self.pending_ack is None:
            return
        to_caller, invite = self.pending_ack
        if to_caller == from_caller:
            return
        self.pending_ack = None
        leg: InboundLeg | OutboundLeg | None = self.a if to_caller else self.b
        dialog = leg.dialog if leg is not None else None
        if leg is None or dialog is None:
            return

        def send(body: bytes, content_type: str | None, status: int, at: float) -> None:
            if leg is None or dialog is None:
                return
            # the 2xx is ACKed in any case (RFC 3261 §13.2.2.4); an answer the relay
            # cannot carry leaves the session without media: the call ends
            self._send_ack(leg, dialog, invite.cseq.seq, body, content_type)
            if status != 200:
                self.log.warning("call.media_failed", status=status, method="ACK")
                self.hang_up(at, from_caller=None, why="media relay failed")

        # the ACK of a delayed offer carries the answer (RFC 3264 §4)
        self._through(self._party(from_caller), ack, False, send, now)

    def _relay_request(self, request: Request, tx_id: str, from_caller: bool, now: float) -> None:
        other: InboundLeg | OutboundLeg | None = self.b if from_caller else self.a
        mine_leg: InboundLeg | OutboundLeg | None = self.a if from_caller else self.b
        if request.method == "INVITE":
            # Our 2xx to this re-INVITE (relayed, or the switch's own) is retransmitted by
            # the endpoint until its ACK; if none comes, the AckTimedOut names this server
            # transaction and must find the call.
            self.host.index_tx(tx_id, self)
        if from_caller and other is None and self.app is not None:
            self._answer_locally_in_dialog(request, now)
            return
        if other is None or other.dialog is None or mine_leg is None or mine_leg.dialog is None:
            self._answer(request, 481, "Call/Transaction Does Not Exist", now)
            return
        if request.method in TARGET_REFRESH:
            mine_leg.dialog.update_target(request)
        towards = other

        def send(body: bytes, content_type: str | None, status: int, at: float) -> None:
            dialog = towards.dialog
            if status != 200 or self.phase is CallPhase.ENDED or dialog is None:
                # SDP the relay cannot carry (488), a relay that is down (503)
                status = 481 if status == 200 else status
                self._answer(request, status, _media_failure(status), at)
                return
            sent = dialog.create_request(request.method, body, content_type)
            copy_end_to_end(request, sent)
            if request.method in ("INVITE", "UPDATE"):
                for name, value in self.refresher.request_headers(towards):
                    sent.add(name, value)
            if body:
                towards.refresh.last_sdp = body
            mf = _max_forwards(request)
            sent.set("max-forwards", str(mf - 1 if mf > 0 else 0))
            dest, transport = towards.peer
            relayed_tx = self.host.sip.send_request(sent, dest, transport, at)
            self.relays[relayed_tx] = Relay(request, tx_id, from_caller, sent)
            self.host.index_tx(relayed_tx, self)

        # an SDP in a re-INVITE or UPDATE is a new offer (RFC 3264 §8, RFC 3311 §5.1)
        self._through(self._party(from_caller), request, True, send, now)

    def _relay_response(self, relay: Relay, response: Response, now: float) -> None:
        source = relay.source_request
        mine_leg: InboundLeg | OutboundLeg | None = self.a if relay.from_caller else self.b
        other: InboundLeg | OutboundLeg | None = self.b if relay.from_caller else self.a
        if mine_leg is None or mine_leg.dialog is None:
            return
        out = make_response(
            source, response.status, response.reason, to_tag=mine_leg.dialog.local_tag
        )
        method = response.cseq.method
        if 200 <= response.status < 300 and method in TARGET_REFRESH:
            if other is not None and other.dialog is not None:
                other.dialog.update_target(response)
                if method == "INVITE" and relay.sent.body:
                    self._send_ack(other, other.dialog, relay.sent.cseq.seq, b"", None)
                elif method == "INVITE":
                    self.pending_ack = (not relay.from_caller, relay.sent)
        if 100 < response.status < 300 and source.method in ("INVITE", "UPDATE", "SUBSCRIBE"):
            out.add("contact", mine_leg.dialog.local_contact)
        copy_end_to_end(response, out)
        if response.status == 100:
            return
        # RFC 4028 §10: a 2xx to a re-INVITE or UPDATE refreshes the session of both legs
        refreshes = (
            200 <= response.status < 300
            and method in ("INVITE", "UPDATE")
            and self.phase is CallPhase.ANSWERED
        )
        if refreshes and other is not None:
            self.refresher.answered(other, response)
            self.refresher.refreshed(other, now)
        if refreshes:
            self.refresher.answering(mine_leg, source, out)

        def send(body: bytes, content_type: str | None, status: int, at: float) -> None:
            if status != 200:
                self.log.warning("call.media_failed", status=status, method=method)
            if status != 200 and 200 <= response.status < 300:
                # the party accepted media the relay cannot carry: neither side can be
                # told the truth any more, so the request fails and the call ends
                self._answer(source, 503, _media_failure(503), at)
                self.hang_up(at, from_caller=None, why="media relay failed")
                return
            if body:
                out.add("content-type", content_type or "application/sdp")
                out.body = body
            self.host.sip.send_response(out, at)
            if refreshes and mine_leg is not None:
                self._confirmed(mine_leg, body, at)

        # the response answers the relayed offer, or offers when the request had none
        offer = not relay.sent.body
        self._through(self._party(not relay.from_caller), response, offer, send, now)

    def _answer_locally_in_dialog(self, request: Request, now: float) -> None:
        """The switch itself is the other party (voicemail, a feature code): a re-INVITE
        (hold, session refresh) is answered from the media session, INFO/UPDATE with 200.

        RFC 3264 §5 / RFC 3261 §14.2: a re-INVITE without SDP asks us for an offer; it goes
        in the 200 and the answer comes in the ACK (`_on_caller_ack`)."""
        app = self.app
        assert app is not None
        if request.method == "INVITE":
            try:
                body = app.renegotiate(request.body) if request.body else app.offer()
            except SdpError as exc:
                self._answer(request, exc.status_hint, str(exc), now)
                return
            if self.a.dialog is not None:
                self.a.dialog.update_target(request)
            self.awaiting_answer = not request.body
            response = make_response(request, 200, "OK")
            response.add("contact", self.host.contact_for(self.a.peer[1]))
            response.add("allow", ALLOW)
            response.add("content-type", "application/sdp")
            response.body = body
            self.refresher.answering(self.a, request, response)
            self.host.sip.send_response(response, now)
            self._confirmed(self.a, body, now)
            return
        if request.method == "UPDATE" and self.a.dialog is not None:
            self._refresh_locally(request, True, now)
            return
        if request.method in ("INFO", "OPTIONS", "NOTIFY"):
            self._answer(request, 200, "OK", now)
            return
        self._answer(request, 405, "Method Not Allowed", now)

    def _on_caller_ack(self, ack: Request) -> None:
        """The caller's ACK to the switch's own 200 (voicemail, feature codes): when our
        200 carried the offer (a delayed-offer INVITE or re-INVITE), the ACK carries the
        answer (RFC 3264 §4), and the media session must learn where to send."""
        app = self.app
        if app is None or not self.awaiting_answer:
            return
        self.awaiting_answer = False
        if not ack.body:
            self.log.warning("call.ack_without_answer")
            return
        try:
            app.apply_answer(ack.body)
        except SdpError as exc:
            self.log.warning("call.bad_answer_in_ack", reason=str(exc))

    # -- media: SDP through the relay ---------------------------------------------------
    def _through(
        self,
        party: RelayParty | None,
        message: Request | Response,
        offer: bool,
        send: Passed,
        now: float,
    ) -> None:
        """`message`'s body to the other party: SDP through the relay, in the call's
        order; any other body (or none) as it is, after what is already waiting."""
        sdp = _sdp_of(message)

        def carried(body: bytes, status: int, at: float) -> None:
            if sdp:
                send(body, "application/sdp" if body else None, status, at)
            else:
                send(message.body, message.get("content-type"), 200, at)

        self.media.carry(party, sdp, offer, carried, now)

    def _party(self, from_caller: bool) -> RelayParty | None:
        """The caller (True) or the other party as the relay knows it."""
        a = self.a
        caller_tag = a.invite.from_.tag or ""
        if from_caller:
            other = self.b.dialog.remote_tag if self.b and self.b.dialog else None
            return RelayParty(Side.CALLER, caller_tag, other, a.peer[0])
        b = self.b
        if b is None:
            return None
        tag: str | None = b.dialog.remote_tag if b.dialog is not None else None
        if tag is None and isinstance(b, InboundLeg):
            tag = b.invite.from_.tag  # a picker before its 200: known by its From tag
        return RelayParty(Side.CALLEE, tag or "", caller_tag, b.peer[0])

    def _fork_party(self, fork: OutboundLeg, response: Response) -> RelayParty:
        caller_tag = self.a.invite.from_.tag or ""
        return RelayParty(Side.CALLEE, response.to.tag or "", caller_tag, fork.peer[0])

    def _answer(
        self,
        request: Request,
        status: int,
        reason: str,
        now: float,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        tag = request.to.tag
        response = make_response(request, status, reason, to_tag=None if tag else self.a.local_tag)
        for name, value in headers or ():
            response.add(name, value)
        self.host.sip.send_response(response, now)

    # -- refresh.RefreshHost: what the session timers need of the call -----------------------
    @property
    def session_expires(self) -> int:
        return self.host.session_expires

    def call_at(self, when: float, callback: Callable[[float], None]) -> Timer:
        return self.host.call_at(when, callback)

    def send_request(self, leg: RefreshedLeg, request: Request, now: float) -> str:
        dest, transport = leg.peer
        tx_id = self.host.sip.send_request(request, dest, transport, now)
        self.host.index_tx(tx_id, self)
        return tx_id

    def send_ack(self, leg: RefreshedLeg, ack: Request) -> None:
        dest, transport = leg.peer
        self.host.sip.send_ack(ack, dest, transport)

    def invite_pending(self) -> bool:
        relayed = any(r.sent.method == "INVITE" for r in self.relays.values())
        return relayed or self.pending_ack is not None or self.awaiting_answer

    def session_dead(self, leg: RefreshedLeg, why: str, now: float) -> None:
        if self.phase is CallPhase.ANSWERED:
            self.hang_up(now, from_caller=None, why=why)

    def alive(self) -> bool:
        return self.phase is CallPhase.ANSWERED

    # -- the end ------------------------------------------------------------------------
    def _media_stopped(self, side: Side, now: float) -> None:
        """The relay heard no RTP from one party for `server.media.timeout_seconds` while
        nobody was on hold: its phone lost power or network, or a BYE was lost. The call
        is over for both (BYE each way), so no extension stays busy for ever."""
        if self.phase is not CallPhase.ANSWERED:
            return
        leg = self.a if side is Side.CALLER else self.b
        key = leg.caller if isinstance(leg, InboundLeg) else leg.callee if leg else None
        self.log.warning("call.media_timeout", silent=side.value, extension=_ext(key))
        self.hang_up(now, from_caller=None, why="media timeout")

    def hang_up(self, now: float, *, from_caller: bool | None, why: str | None = None) -> None:
        """End an answered call: BYE to the side(s) that did not hang up."""
        if self.phase is CallPhase.ENDED:
            return
        targets: list[InboundLeg | OutboundLeg] = []
        if from_caller is not True:
            targets.append(self.a)
        if from_caller is not False and self.b is not None:
            targets.append(self.b)
        for leg in targets:
            if leg is self.a and not self.caller_acked:
                self.pending_caller_bye = True
            else:
                self._send_bye(leg, now)
        by = "caller" if from_caller else "callee" if from_caller is False else "switch"
        self.end(why or "hangup by " + by, now)

    def _send_bye(self, leg: InboundLeg | OutboundLeg, now: float) -> None:
        if leg.dialog is not None:
            bye = leg.dialog.create_request("BYE")
            dest, transport = leg.peer
            self.host.sip.send_request(bye, dest, transport, now)

    def _caller_acked(self, now: float) -> None:
        self.caller_acked = True
        if self.pending_caller_bye:
            self.pending_caller_bye = False
            self._send_bye(self.a, now)

    def ack_timed_out(self, tx_id: str, now: float) -> None:
        """A 2xx of ours (to the caller's INVITE, or a 2xx to a re-INVITE relayed to either
        side) was never ACKed. RFC 3261 §13.3.1.4: "If the server retransmits the 2xx
        response for 64*T1 seconds without receiving an ACK, the dialog is confirmed, but
        the session SHOULD be terminated. This is accomplished with a BYE": both legs."""
        self.log.warning("call.ack_timeout", tx_id=tx_id, reinvite=tx_id != self.a.tx_id)
        self._caller_acked(now)
        self.hang_up(now, from_caller=None)

    def on_timeout(self, tx_id: str, now: float, status: int = 408) -> None:
        """Timer B/F or a transport failure on one of our client transactions, taken as
        a `status` response: 408, or 513 for a request too large to send."""
        if self.refresher.owns(tx_id):
            self.refresher.on_timeout(tx_id, now)
            return
        fork = self.forks.get(tx_id)
        if fork is not None:
            if fork.state in (ForkState.TRYING, ForkState.RINGING, ForkState.CANCELLING):
                self._on_fork_response(fork, _synthetic(fork.invite, status), now)
            return
        relay = self.relays.pop(tx_id, None)
        if relay is not None:
            self._relay_response(relay, _synthetic(relay.sent, status), now)
            if relay.sent.method == "BYE":
                self.end("bye timed out", now)

    def end(self, why: str, now: float) -> None:
        if self.phase is CallPhase.ENDED:
            return
        self.phase = CallPhase.ENDED
        self.ended_at = now
        self.end_reason = why
        lines = self.host.lines
        if self.a.caller is not None:
            lines.release(self.a.caller, self.call_id)
        for fork in self.forks.values():
            if fork.callee is not None:
                lines.release(fork.callee, self.call_id)
        if isinstance(self.b, InboundLeg) and self.b.caller is not None:
            lines.release(self.b.caller, self.call_id)  # a picker
        self.stop_ring_timer()
        self.refresher.stop(self.a, self.b, *self.forks.values())
        self.media.release(now)
        if not self.a.final_sent:
            # the call ended while its answer waited for the relay: the caller's INVITE
            # still gets its final response (RFC 3261 §13.3.1), then nothing more
            self._send_to_caller(487, "Request Terminated", now)
        if self.app is not None:
            self.app.close()
        self.log.info("call.ended", reason=why)
        self.host.call_ended(self, now)


def best_failure(statuses: list[int]) -> int:
    """The response the caller sees when every fork failed (RFC 3261 §16.7, simplified).

    6xx wins; a busy callee is reported as busy (486) in preference to the others;
    a callee that never answered (408 timeouts only) is 480 Temporarily Unavailable.
    """
    statuses = [s for s in statuses if s >= 300]
    for s in statuses:
        if s >= 600:
            return s
    if 486 in statuses:
        return 486
    # A redirect or a challenge from a phone makes no sense to the caller without the
    # phone's headers (RFC 3261 §16.7 would have us merge them; a B2BUA does not relay
    # them), and 5xx/408/487 say nothing about the callee: those become 480.
    # A callee's 422 is about the switch's leg (RFC 4028: each leg has its own timer), not
    # the caller's, and a 422 without the callee's Min-SE would break §6: also 480.
    meaningful = [s for s in statuses if 400 <= s < 500 and s not in (401, 407, 408, 422, 487)]
    if meaningful:
        return min(meaningful)
    # 513: our INVITE was too large to send (RFC 3261 §18.1.1, no TCP); the caller
    # can shorten it (§21.5.14 "The server was unable to process the request since the
    # message length exceeded its capabilities").
    return 513 if 513 in statuses else 480


def _sdp_of(message: Request | Response) -> bytes:
    """The message's body when it is an SDP (a body without Content-Type is taken for one,
    as phones that leave it out mean)."""
    body = message.body
    if not body:
        return b""
    declared = message.get("content-type") or "application/sdp"
    return body if declared.partition(";")[0].strip().lower() == "application/sdp" else b""


def _media_failure(status: int) -> str:
    if status == 488:
        return "Not Acceptable Here (the media relay cannot carry this SDP)"
    return "Service Unavailable (media relay)"


def _synthetic(request: Request, status: int) -> Response:
    return make_response(request, status, _reason(status))


def _reason(status: int) -> str:
    return REASON_PHRASES.get(status, "Unknown")


def _max_forwards(request: Request) -> int:
    try:
        value = request.max_forwards
    except ParseError:
        return 70
    return 70 if value is None else value


def _ext(key: ExtensionKey | None) -> str | None:
    return f"{key[1]}@{key[0]}" if key is not None else None
