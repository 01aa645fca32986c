"""Switch: the sans-IO transaction user of the softswitch.

It is fed sipstack events with the current time and answers through the
Endpoint (itself sans-IO); the runtime shell only moves bytes and sleeps until
`get_timer()`. Requests are dispatched by method to small handlers; calls are
`Call` objects found by their transaction ids and dialog keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import msgspec
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
from sipstack.message import Request, make_response
from sipstack.transport import Address, Transport
from sipstack.uri import SipUri

from .admission import customer_of, unsupported_requires
from .auth import AuthFailed, AuthOk, AuthStale, AuthThrottle, DigestAuthenticator
from .call import ALLOW, Call
from .directory import Directory
from .extension_state import ExtensionKey, ExtensionStates, LineState
from .feature_codes import FeatureCodes
from .hunt_state import HuntState
from .hunting import HuntRunner
from .leg import OutboundLeg
from .local_media import MediaPort
from .location import LocationStore, StateStore
from .mailbox import MailboxService
from .media.voicemail import Mailbox, VoicemailStore
from .mwi import MessageWaiting
from .pickup_call import Pickups
from .registrar import RegistrarPolicy, apply_outcome, process_register
from .router import CallRouter
from .timers import TimerHeap

log = structlog.get_logger("switch")

PURGE_INTERVAL = 60.0
class Switch:
    """The B2BUA core: registrar, calls, per-extension state."""

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
        voicemail: VoicemailStore,
        media: MediaPort | None = None,
        invite_401_user_agents: tuple[str, ...] = (),
    ) -> None:
        self.endpoint = endpoint
        self.directory = directory
        self.location = location
        self.state_store = state_store
        self.ids = ids
        self.auth = authenticator
        self.throttle = throttle
        self.policy = policy
        self._contacts = contacts
        self.now = now
        self.timers = TimerHeap()
        self.counters: Counter[str] = Counter()
        self.states = ExtensionStates(self._state_changed)
        self.calls_by_tx: dict[str, Call] = {}
        self.calls_by_dialog: dict[tuple[str, str], Call] = {}
        self.calls: dict[str, Call] = {}
        self.media = media
        self.invite_401_user_agents = invite_401_user_agents
        self.hunt_state = HuntState(state_store)
        self.router = CallRouter(self)
        self.hunting = HuntRunner(self, self.hunt_state)
        self.pickups = Pickups(self)
        self.features = FeatureCodes(self)
        self.mailbox = MailboxService(self, voicemail)
        self.mwi = MessageWaiting(self)
        self._handlers: dict[str, Callable[[RequestReceived], None]] = {
            "REGISTER": self._on_register,
            "INVITE": self.router.on_invite,
            "OPTIONS": self._on_options,
            "SUBSCRIBE": self.mwi.on_subscribe,
        }
        self.timers.call_at(now + PURGE_INTERVAL, self._purge)

    # -- CallHost ----------------------------------------------------------------------
    def contact_for(self, transport: Transport) -> str:
        return self._contacts[transport]

    def index_tx(self, tx_id: str, call: Call) -> None:
        self.calls_by_tx[tx_id] = call
        call.tx_ids.append(tx_id)

    def index_dialog(self, key: tuple[str, str], call: Call) -> None:
        self.calls_by_dialog[key] = call
        call.dialog_keys.append(key)

    def call_ended(self, call: Call) -> None:
        # Transactions may still deliver late responses (a 487 after our CANCEL):
        # keep the tx index until the timers clean it, but drop the call itself.
        self.calls.pop(call.call_id, None)
        self.router.call_ended(call)
        self.counters[f"calls_{'answered' if call.answered_at is not None else 'unanswered'}"] += 1
        self.state_store.put("cdr", f"{call.started_at:017.6f} {call.call_id}",
                             call_record(call))
        self.timers.call_at(self.now + 40.0, lambda now: self._forget(call))

    def fork_failed(self, call: Call, responses: list[int]) -> bool:
        return self.router.fork_failed(call, responses)

    def _forget(self, call: Call) -> None:
        # Only this call's own entries: a scan of the whole index per ended call grows
        # with the call rate times the 40 s grace and was most of the CPU under load.
        for tx in call.tx_ids:
            if self.calls_by_tx.get(tx) is call:
                del self.calls_by_tx[tx]
        for key in call.dialog_keys:
            if self.calls_by_dialog.get(key) is call:
                del self.calls_by_dialog[key]

    def _state_changed(self, key: ExtensionKey, state: LineState, calls: tuple[str, ...]) -> None:
        log.info("extension.state", customer=key[0], extension=key[1], state=state.value,
                 call_ids=list(calls))

    # -- the pump's interface ------------------------------------------------------------
    def on_event(self, event: Event, now: float) -> None:
        self.now = now
        if isinstance(event, RequestReceived):
            self._on_request(event)
        elif isinstance(event, ResponseReceived):
            call = self.calls_by_tx.get(event.tx_id)
            if call is not None:
                call.on_response(event.tx_id, event.response, now)
        elif isinstance(event, CancelReceived):
            call = self.calls_by_tx.get(event.invite_tx_id)
            if call is not None:
                call.on_caller_cancel(now, event.cancel.get("reason"))
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            call = self.calls_by_tx.get(event.tx_id)
            if call is not None:
                call.on_timeout(event.tx_id, now)
        elif isinstance(event, AckTimedOut):
            call = self.calls_by_tx.get(event.tx_id)
            if call is not None:
                call.ack_timed_out(now)
        elif isinstance(event, MessageRejected):
            self.counters["sip_rejected"] += 1
            log.warning("sip.rejected", source=f"{event.source[0]}:{event.source[1]}",
                        reason=event.reason, status=event.status)

    def get_timer(self) -> float | None:
        return self.timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        self.now = now
        self.timers.fire_due(now)

    def reload(self, directory: Directory) -> None:
        """Swap in a new directory: calls in progress keep the legs they have."""
        self.directory = directory
        self.router.reload()

    # -- requests ----------------------------------------------------------------------
    def _on_request(self, event: RequestReceived) -> None:
        request = event.request
        try:
            in_dialog = request.to.tag is not None
        except ParseError as exc:
            self.reply(request, 400, exc.reason)
            return
        if request.method == "ACK" or in_dialog:
            self._on_in_dialog(event)
            return
        handler = self._handlers.get(request.method)
        if handler is None:
            if request.method in ("PUBLISH", "MESSAGE", "REFER", "NOTIFY",
                                  "INFO", "UPDATE", "PRACK", "BYE"):
                status = 481 if request.method in ("BYE", "PRACK", "UPDATE", "INFO") else 405
                self.reply(request, status, allow=status == 405)
            else:
                self.reply(request, 501)
            return
        handler(event)

    def _on_in_dialog(self, event: RequestReceived) -> None:
        request = event.request
        tag = request.to.tag
        call = self.calls_by_dialog.get((request.call_id, tag or ""))
        if call is None:
            if self.mwi.on_in_dialog(event):
                return
            if request.method != "ACK":
                self.reply(request, 481)
            return
        from_caller = call.a.dialog is not None and call.a.dialog.key == (request.call_id, tag)
        call.on_request(request, event.tx_id, from_caller, self.now)

    def reply(self, request: Request, status: int, reason: str | None = None, *,
              allow: bool = False, headers: list[tuple[str, str]] | None = None) -> None:
        tag = None if request.to.tag else self.ids.tag()
        response = make_response(request, status, reason, to_tag=tag)
        if allow:
            response.add("allow", ALLOW)
        if headers:
            response.headers.extend(headers)
        self.endpoint.send_response(response, self.now)

    def _on_options(self, event: RequestReceived) -> None:
        self.reply(event.request, 200, allow=True,
                   headers=[("accept", "application/sdp"), ("supported", "outbound, path")])

    # -- registrar ---------------------------------------------------------------------
    def _on_register(self, event: RequestReceived) -> None:
        request = event.request
        unsupported = unsupported_requires(request)
        if unsupported:
            self.reply(request, 420, headers=[("unsupported", ", ".join(unsupported))])
            return
        to_uri = request.to.uri
        if not isinstance(to_uri, SipUri) or to_uri.user is None:
            self.reply(request, 404, "Not Found (To must be sip:extension@domain)")
            return
        customer = customer_of(self.directory, request, to_first=True)
        extension = (self.directory.extension(customer.name, to_uri.user)
                     if customer is not None else None)
        if customer is None or extension is None:
            self.reply(request, 404)
            return
        username = self.authenticate(event, customer.domain, "authorization",
                                     lambda user: extension.password
                                     if user == extension.number else None)
        if username is None:
            return
        aor = f"{extension.number}@{customer.domain}"
        outcome = process_register(
            request, aor, self.location.bindings(aor, self.now), event.source,
            event.transport.value, self.policy, self.now,
        )
        apply_outcome(self.location, aor, outcome)
        self.endpoint.send_response(outcome.response, self.now)
        if outcome.save or outcome.remove or outcome.remove_all:
            log.info("registrar.update", extension=extension.number, customer=customer.name,
                     status=outcome.response.status,
                     contacts=[b.contact for b in self.location.bindings(aor, self.now)])
        if outcome.save and extension.voicemail:
            # The lamp must not go dark after a re-register (PEERS.md pain point 5).
            self.mwi.unsolicited(Mailbox(customer.name, extension.number), only=outcome.save)

    def authenticate(self, event: RequestReceived, realm: str, header: str,
                     password_of: Callable[[str], str | None]) -> str | None:
        """Digest-authenticate `event.request`; answer 401/407/403 and return None on failure."""
        request = event.request
        ip = event.source[0]
        if request.has(header) and self.throttle.is_blocked(ip, self.now) \
                and not self._is_registered_flow(event.source):
            # A source that keeps failing is refused without looking at its answers, so a
            # scanner cannot guess at line rate; other addresses, and phones already
            # registered from this exact address and port, are not affected.
            log.warning("auth.throttled", source=ip, method=request.method)
            self.reply(request, 403, "Forbidden (too many authentication failures)")
            return None
        result = self.auth.verify(request, header, realm, password_of, self.now)
        if isinstance(result, AuthOk):
            self.throttle.record_success(ip, self.now)
            return result.username
        if isinstance(result, AuthFailed):
            self.throttle.record_failure(ip, self.now)
            log.warning("auth.failed", source=ip, method=request.method, realm=realm,
                        user=result.username, reason=result.reason)
            self.reply(request, 403, "Forbidden")
            return None
        if header == "authorization":
            status, challenge_header = 401, "www-authenticate"
        else:
            status, challenge_header = 407, "proxy-authenticate"
        stale = isinstance(result, AuthStale)
        self.reply(request, status, headers=[
            (challenge_header, value) for value in self.auth.challenge(realm, self.now, stale)])
        return None

    def _is_registered_flow(self, source: Address) -> bool:
        return any(b.source == source for b in self.location.all_bindings(self.now))

    def _purge(self, now: float) -> None:
        removed = self.location.purge_expired(now)
        if removed:
            log.info("registrar.purged", bindings=removed)
        self.timers.call_at(now + PURGE_INTERVAL, self._purge)


def call_record(call: Call) -> str:
    """One CDR as JSON: who called whom, when, how it was answered and how it ended."""
    b = call.b
    callee = b.callee if isinstance(b, OutboundLeg) else (b.caller if b is not None else None)
    a_uri = call.a.invite.uri
    return msgspec.json.encode({
        "call_id": call.call_id,
        "caller": call.a.caller[1] if call.a.caller else None,
        "customer": call.a.caller[0] if call.a.caller else None,
        "dialed": getattr(a_uri, "user", None),
        "answered_by": callee[1] if callee else None,
        "start": call.started_at,
        "answer": call.answered_at,
        "end": call.ended_at,
        "status": call.final_status,
        "end_reason": call.end_reason,
    }).decode()
