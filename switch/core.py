"""Switch: the sans-IO transaction user of the softswitch, and the wiring of its parts.

It is fed sipstack events with the time of each (`on_event(event, now)`,
`handle_timer(now)`) and answers through the Endpoint, itself sans-IO; the shell only
moves bytes and sleeps until `get_timer()`. This module does three things and no
feature work: it builds each service with the narrow ports it needs (`switch.ports`),
dispatches requests by method and dialog, and keeps the index of calls by transaction
and dialog (the `CallHost` and `CallBook` the call engine and pickup use).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import structlog

from sipstack.endpoint import Endpoint
from sipstack.errors import ParseError
from sipstack.events import (
    AckTimedOut,
    CancelReceived,
    Event,
    MessageRejected,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from sipstack.ids import IdSource
from sipstack.transport import Transport

from .admission import supported_header, unsupported_requires
from .auth import AuthThrottle, DigestAuthenticator
from .calls.call import Call
from .calls.cdr import CDR_NAMESPACE, call_record, cdr_key
from .calls.legs import InboundLeg
from .calls.line_state import ExtensionKey, ExtensionStates, LineState
from .calls.ringing import Ringer
from .calls.router import CallRouter, Destinations
from .directory import Directory
from .features.blf import BusyLamps
from .features.calling_groups import CallingGroups
from .features.hunt_groups import HuntGroups
from .features.local_answer import LocalAnswer
from .features.member_codes import MemberCodes
from .features.mwi import MessageWaiting
from .features.pickup import Pickups
from .features.subscriptions import event_package
from .features.voicemail import MailboxIndex, VoicemailService
from .gate import Gatekeeper, Replier
from .ports import DirectoryRef, MailboxFiles, MediaPort, MediaRelay
from .registration.keepalive import NatKeepalive
from .registration.location import LocationStore
from .registration.registrar import RegistrarPolicy
from .registration.service import RegisterService
from .routing import Caller
from .storage.hunt_state import HuntState
from .storage.state_store import StateStore
from .timers import Timer, TimerHeap

log = structlog.get_logger("switch")

PURGE_INTERVAL = 60.0
# An ended call stays indexed this long, so late responses (a 487 after our CANCEL,
# a retransmitted BYE) still find it (64*T1 and a margin).
FORGET_AFTER = 40.0
# Methods that only make sense inside a dialog: outside one, 481 (RFC 3261 §12.2.2).
IN_DIALOG_ONLY = frozenset({"BYE", "PRACK", "UPDATE", "INFO"})
KNOWN_NOT_ALLOWED = frozenset({"PUBLISH", "MESSAGE", "REFER", "NOTIFY"})

Handler = Callable[[RequestReceived, float], None]


class Switch:
    """The B2BUA core: dispatch, the call index, and the services wired together."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        directory: Directory,
        location: LocationStore,
        state_store: StateStore,
        ids: IdSource,
        authenticator: DigestAuthenticator,
        throttle: AuthThrottle,
        policy: RegistrarPolicy,
        contacts: dict[Transport, str],
        now: float,
        mailbox_files: MailboxFiles,
        mailbox_index: MailboxIndex,
        media: MediaPort | None = None,
        relay: MediaRelay | None = None,
        session_expires: int = 0,
        max_blf_subscriptions: int = 200,
        invite_401_user_agents: tuple[str, ...] = (),
        keepalive_seconds: float = 0.0,
    ) -> None:
        self.sip = endpoint
        self.ids = ids
        self.relay = relay  # None: SDP passes end to end (server.media.relay: off)
        self.session_expires = session_expires  # RFC 4028 on every leg; 0: off
        self.location = location
        self.state_store = state_store
        self._contacts = contacts
        self.directory = DirectoryRef(directory)
        self.timers = TimerHeap()
        self.counters: Counter[str] = Counter()
        self.lines = ExtensionStates(self._line_changed, answered=self._call_answered)
        self.calls_by_tx: dict[str, Call] = {}
        self.calls_by_dialog: dict[tuple[str, str], Call] = {}
        self.calls: dict[str, Call] = {}
        self.replies = Replier(endpoint, ids)
        gate = Gatekeeper(
            authenticator=authenticator,
            throttle=throttle,
            replies=self.replies,
            registrations=location,
        )
        self.router = CallRouter(
            directory=self.directory,
            replies=self.replies,
            gate=gate,
            open_call=self._open_call,
            invite_401_user_agents=invite_401_user_agents,
        )
        ringer = Ringer(
            directory=self.directory,
            registrations=location,
            ids=ids,
            contacts=self,
            timers=self.timers,
            carry_out=self.router.carry_out,
        )
        self.hunt_state = HuntState(state_store, login_changed=self._login_changed)
        self.mwi = MessageWaiting(
            sip=endpoint,
            replies=self.replies,
            gate=gate,
            ids=ids,
            contacts=self,
            timers=self.timers,
            directory=self.directory,
            registrations=location,
            counts=mailbox_index,
        )
        local = LocalAnswer(media=media)
        self.voicemail = VoicemailService(
            local=local, files=mailbox_files, index=mailbox_index, watch=self.mwi, ids=ids
        )
        hunt_groups = HuntGroups(
            directory=self.directory,
            registrations=location,
            lines=self.lines,
            state=self.hunt_state,
            ringer=ringer,
        )
        pickups = Pickups(directory=self.directory, calls=self, ids=ids)
        self.router.connect(
            Destinations(
                extension=ringer.ring_extension,
                trunk=ringer.ring_trunk,
                calling_group=CallingGroups(directory=self.directory, ringer=ringer).start,
                hunt_group=hunt_groups.start,
                pickup=pickups.pick_up,
                replaces=pickups.replace,
                member_code=MemberCodes(state=self.hunt_state, local=local).apply,
                voicemail=self.voicemail.start,
            )
        )
        self.blf = BusyLamps(
            sip=endpoint,
            replies=self.replies,
            gate=gate,
            ids=ids,
            contacts=self,
            timers=self.timers,
            directory=self.directory,
            lines=self.lines,
            calls=self,
            hunt_state=self.hunt_state,
            store=state_store,
            max_per_phone=max_blf_subscriptions,
        )
        # lamps kept from before a restart are told to subscribe again (RFC 6665 §4.1.3)
        self.blf.notifier.deactivate_kept(now)
        # the event packages, by their Event name (RFC 6665 §7.2)
        self._packages: dict[str, Handler] = {
            "message-summary": self.mwi.on_subscribe,
            "dialog": self.blf.on_subscribe,
        }
        self._notifiers = (self.mwi.notifier, self.blf.notifier)
        self.registrar = RegisterService(
            sip=endpoint,
            replies=self.replies,
            gate=gate,
            directory=self.directory,
            location=location,
            policy=policy,
            registered=lambda box, at, saved: self.mwi.unsolicited(box, at, only=saved),
        )
        self.keepalive = NatKeepalive(
            sip=endpoint,
            ids=ids,
            contacts=self,
            timers=self.timers,
            registrations=location,
            unregister=location.remove,
            interval=keepalive_seconds,
        )
        self.keepalive.start(now)
        self._handlers: dict[str, Handler] = {
            "REGISTER": self.registrar.on_register,
            "INVITE": self.router.on_invite,
            "OPTIONS": self._on_options,
            "SUBSCRIBE": self._on_subscribe,
        }
        self.timers.call_at(now + PURGE_INTERVAL, self._purge)

    # -- the pump's interface ------------------------------------------------------------
    def on_event(self, event: Event, now: float) -> None:
        if isinstance(event, RequestReceived):
            self._on_request(event, now)
        elif isinstance(event, ResponseReceived):
            call = self.calls_by_tx.get(event.tx_id)
            if call is not None:
                call.on_response(event.tx_id, event.response, now)
            elif event.response.status >= 200 and not self.keepalive.on_answered(event.tx_id):
                status = event.response.status
                any(n.on_notify_answered(event.tx_id, status) for n in self._notifiers)
        elif isinstance(event, CancelReceived):
            call = self.calls_by_tx.get(event.invite_tx_id)
            if call is not None:
                call.on_caller_cancel(now, event.cancel.get("reason"))
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            call = self.calls_by_tx.get(event.tx_id)
            if call is not None:
                # RFC 3261 §18.1.1: a request over 1300 bytes with no TCP to carry it
                # was never sent; the caller hears 513 Message Too Large (§21.5.14).
                too_large = isinstance(event, TransportFailed) and event.too_large
                call.on_timeout(event.tx_id, now, 513 if too_large else 408)
            elif not self.keepalive.on_failed(event.tx_id):
                any(n.on_notify_failed(event.tx_id) for n in self._notifiers)
        elif isinstance(event, AckTimedOut):
            call = self.calls_by_tx.get(event.tx_id)
            if call is not None:
                call.ack_timed_out(event.tx_id, now)
        elif isinstance(event, MessageRejected):
            self.counters["sip_rejected"] += 1
            log.warning(
                "sip.rejected",
                source=f"{event.source[0]}:{event.source[1]}",
                reason=event.reason,
                status=event.status,
            )

    def flush_notifications(self, now: float) -> None:
        """The end of one pump: the busy lamps of extensions whose state changed while
        its events were handled get their NOTIFYs, once each."""
        self.blf.flush(now)

    def _login_changed(self, customer: str, group: str, member: str) -> None:
        self.blf.login_changed(customer, group, member)

    def _call_answered(self, key: ExtensionKey) -> None:
        self.blf.line_changed(key)

    def _line_changed(self, key: ExtensionKey, state: LineState, calls: tuple[str, ...]) -> None:
        _log_line_change(key, state, calls)
        self.blf.line_changed(key)

    def get_timer(self) -> float | None:
        return self.timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        self.timers.fire_due(now)

    def reload(self, directory: Directory, invite_401_user_agents: tuple[str, ...]) -> None:
        """Swap in a new directory: calls in progress keep the legs they have; every
        decision after this reads the new one."""
        self.directory.current = directory
        self.router.invite_401_user_agents = invite_401_user_agents
        self.blf.reloaded()  # a member the new file removed is logged out of its lamp

    # -- requests ----------------------------------------------------------------------
    def _on_request(self, event: RequestReceived, now: float) -> None:
        request = event.request
        try:
            in_dialog = request.to.tag is not None
        except ParseError as exc:
            self.replies.reply(request, 400, now, exc.reason)
            return
        if request.method != "ACK":
            unsupported = unsupported_requires(request)
            if unsupported:
                headers = [("unsupported", ", ".join(unsupported))]
                self.replies.reply(request, 420, now, headers=headers)
                return
        if request.method == "ACK" or in_dialog:
            self._on_in_dialog(event, now)
            return
        handler = self._handlers.get(request.method)
        if handler is not None:
            handler(event, now)
        elif request.method in IN_DIALOG_ONLY:
            self.replies.reply(request, 481, now)
        elif request.method in KNOWN_NOT_ALLOWED:
            self.replies.reply(request, 405, now, allow=True)
        else:
            self.replies.reply(request, 501, now)

    def _on_in_dialog(self, event: RequestReceived, now: float) -> None:
        request = event.request
        tag = request.to.tag
        call = self.calls_by_dialog.get((request.call_id, tag or ""))
        if call is None:
            if any(n.on_in_dialog(event, now) for n in self._notifiers):
                return
            if request.method != "ACK":
                self.replies.reply(request, 481, now)
            return
        # The caller's dialog, early or confirmed, is keyed by the tag we gave it.
        from_caller = request.call_id == call.call_id and call.a.has_dialog_tag(tag)
        call.on_request(request, event.tx_id, from_caller, now)

    def _on_subscribe(self, event: RequestReceived, now: float) -> None:
        """By event package (RFC 6665 §7.2.1: an unknown one gets 489 and Allow-Events)."""
        handler = self._packages.get(event_package(event.request))
        if handler is not None:
            handler(event, now)
        else:
            headers = [("allow-events", ", ".join(self._packages))]
            self.replies.reply(event.request, 489, now, headers=headers)

    def _on_options(self, event: RequestReceived, now: float) -> None:
        headers = [("accept", "application/sdp")]
        supported = supported_header()
        if supported:
            headers.append(("supported", supported))
        self.replies.reply(event.request, 200, now, allow=True, headers=headers)

    def _purge(self, now: float) -> None:
        self.registrar.purge(now)
        self.timers.call_at(now + PURGE_INTERVAL, self._purge)

    # -- the call index (calls.call.CallHost, calls.ports.CallBook) ----------------------
    def _open_call(self, event: RequestReceived, caller: Caller, now: float) -> Call:
        assert event.tx_id is not None
        key = (caller.customer, caller.extension) if caller.extension is not None else None
        leg = InboundLeg(
            event.request, event.tx_id, (event.source, event.transport), self.ids.tag(), key
        )
        call = Call(self, leg, now)
        self.calls[call.call_id] = call
        self.index_tx(event.tx_id, call)
        if key is not None:
            self.lines.connect(key, call.call_id)
        return call

    def call_at(self, when: float, callback: Callable[[float], None]) -> Timer:
        return self.timers.call_at(when, callback)

    def contact_for(self, transport: Transport) -> str:
        return self._contacts[transport]

    def index_tx(self, tx_id: str, call: Call) -> None:
        self.calls_by_tx[tx_id] = call
        call.tx_ids.append(tx_id)

    def index_dialog(self, key: tuple[str, str], call: Call) -> None:
        self.calls_by_dialog[key] = call
        call.dialog_keys.append(key)

    def call_ended(self, call: Call, now: float) -> None:
        # Transactions may still deliver late responses (a 487 after our CANCEL):
        # keep the tx index until the timers clean it, but drop the call itself.
        self.calls.pop(call.call_id, None)
        answered = "answered" if call.answered_at is not None else "unanswered"
        self.counters[f"calls_{answered}"] += 1
        self.state_store.put(CDR_NAMESPACE, cdr_key(call), call_record(call))
        self.timers.call_at(now + FORGET_AFTER, lambda at: self._forget(call))

    def active_calls(self) -> list[Call]:
        return list(self.calls.values())

    def find(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def transfer_index(self, donor: Call, to: Call) -> None:
        """`donor`'s transactions now belong to `to` (its caller picked `to` up)."""
        self.calls.pop(donor.call_id, None)
        for tx_id in donor.tx_ids:
            self.index_tx(tx_id, to)

    def _forget(self, call: Call) -> None:
        # Only this call's own entries: a scan of the whole index per ended call grows
        # with the call rate times the grace period and was most of the CPU under load.
        for tx in call.tx_ids:
            if self.calls_by_tx.get(tx) is call:
                del self.calls_by_tx[tx]
        for key in call.dialog_keys:
            if self.calls_by_dialog.get(key) is call:
                del self.calls_by_dialog[key]


def _log_line_change(key: ExtensionKey, state: LineState, calls: tuple[str, ...]) -> None:
    log.info(
        "extension.state",
        customer=key[0],
        extension=key[1],
        state=state.value,
        call_ids=list(calls),
    )
