"""CallRouter: turns an INVITE into a Call and carries out the routing decisions.

Who may call and what the dialled string means are decided by the pure policies
in `routing/`; this module puts legs on the wire for each decision and moves a
call along its ring steps (next hunt member, coverage) as forks fail or time out.
Group feature carry-outs live beside it: `hunting.py`, `pickup_call.py`,
`feature_codes.py`, `mailbox.py`.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import structlog

from sipstack.errors import ParseError
from sipstack.events import RequestReceived
from sipstack.header_values import NameAddr
from sipstack.message import Request
from sipstack.transport import transport_of
from sipstack.uri import SipUri, TelUri, Uri, parse_uri

from .admission import customer_of, unsupported_requires
from .call import ALLOW, Call, CallPhase, best_failure
from .directory import HuntGroup
from .extension_state import ExtensionKey
from .leg import InboundLeg, OutboundLeg
from .location import Binding
from .ring_step import RingStep
from .routing import (
    Caller,
    HuntBlock,
    HuntLogin,
    HuntLogout,
    HuntUnblock,
    OutboundTrunk,
    Pickup,
    Reject,
    RingCallingGroup,
    RingExtension,
    RingHuntGroup,
    RouteDecision,
    Voicemail,
    coverage_for,
    hunt_fallback,
    no_answer_seconds,
    own_trunk,
    resolve_target,
    route,
    trunk_allowed,
)
from .routing.coverage import CoverageReason

if TYPE_CHECKING:
    from .core import Switch

log = structlog.get_logger("switch.router")

# How long a call rings with no coverage configured before the caller hears 480
# (RFC 3261 Timer C is "greater than 3 minutes" for proxies; phones give up sooner).
MAX_RING_SECONDS = 180.0
# Coverage may lead to a group whose coverage leads on: stop a loop after this many hops.
MAX_COVERAGE_HOPS = 5


class CallRouter:
    def __init__(self, switch: Switch) -> None:
        self.switch = switch

    def reload(self) -> None:
        """Decisions read the directory afresh for every call; nothing is cached."""

    # -- new calls -------------------------------------------------------------------
    def on_invite(self, event: RequestReceived) -> None:
        sw = self.switch
        request = event.request
        if not self._acceptable(request):
            return
        caller = self._identify_caller(event)
        if caller is None:
            return
        dialed = dialed_number(request)
        if not dialed:
            sw.reply(request, 404)
            return
        decision = route(dialed, caller, sw.directory)
        log.info("call.route", call_id=request.call_id, caller=caller.extension,
                 customer=caller.customer,
                 trunk=caller.from_trunk.name if caller.from_trunk else None,
                 dialed=dialed, decision=type(decision).__name__)
        if isinstance(decision, Reject):
            sw.reply(request, decision.status, decision.reason)
            return
        call = self._new_call(event, caller)
        self.carry_out(call, decision, hops=0)

    def _acceptable(self, request: Request) -> bool:
        sw = self.switch
        unsupported = unsupported_requires(request)
        if unsupported:
            sw.reply(request, 420, headers=[("unsupported", ", ".join(unsupported))])
            return False
        try:
            max_forwards = request.max_forwards
        except ParseError as exc:
            sw.reply(request, 400, exc.reason)
            return False
        if max_forwards == 0:
            sw.reply(request, 483)
            return False
        if not isinstance(request.uri, SipUri | TelUri):
            sw.reply(request, 416)
            return False
        return True

    def _identify_caller(self, event: RequestReceived) -> Caller | None:
        """A trunk by its address, else a phone by digest credentials of its domain."""
        sw = self.switch
        request = event.request
        trunk = sw.directory.trunk_by_source(*event.source)
        if trunk is not None:
            return Caller(trunk[0].name, None, trunk[1])
        customer = customer_of(sw.directory, request)
        if customer is None:
            sw.reply(request, 403, "Forbidden (unknown domain)")
            return None
        password_of = partial(sw.directory.password, customer.name)
        username = sw.authenticate(event, customer.domain, self._credentials_header(request),
                                   password_of)
        if username is None:
            return None
        return Caller(customer.name, username)

    def _credentials_header(self, request: Request) -> str:
        """Proxy-Authorization (407), the normal case; Authorization (401) for a phone that
        already sent one, or whose User-Agent is listed in `server.auth.invite_401_user_agents`."""
        if request.has("proxy-authorization"):
            return "proxy-authorization"
        if request.has("authorization"):
            return "authorization"
        agent = request.get("user-agent") or ""
        if any(agent.startswith(prefix) for prefix in self.switch.invite_401_user_agents):
            return "authorization"
        return "proxy-authorization"

    def _new_call(self, event: RequestReceived, caller: Caller) -> Call:
        sw = self.switch
        assert event.tx_id is not None
        key = (caller.customer, caller.extension) if caller.extension is not None else None
        leg = InboundLeg(event.request, event.tx_id, (event.source, event.transport),
                         sw.ids.tag(), key)
        call = Call(sw, leg)
        sw.calls[call.call_id] = call
        sw.index_tx(event.tx_id, call)
        if key is not None:
            sw.states.connect(key, call.call_id)
        return call

    # -- carrying out decisions -------------------------------------------------------------
    def carry_out(self, call: Call, decision: RouteDecision, hops: int) -> None:
        sw = self.switch
        match decision:
            case Reject(status=status, reason=reason):
                call.reject(status, sw.now, reason)
            case RingExtension(customer=customer, number=number):
                self._ring_extension(call, customer, number, hops)
            case RingCallingGroup(customer=customer, number=number):
                self._ring_calling_group(call, customer, number, hops)
            case RingHuntGroup(customer=customer, number=number):
                sw.hunting.start(call, customer, number, hops)
            case OutboundTrunk(customer=customer, trunk=trunk, number=number):
                self._ring_trunk(call, customer, trunk, number)
            case Pickup():
                sw.pickups.pick_up(call, decision)
            case HuntLogin() | HuntLogout() | HuntBlock() | HuntUnblock():
                sw.features.apply(call, decision)
            case Voicemail(customer=customer, box=box, mode=mode):
                sw.mailbox.start(call, customer, box, mode)

    def _ring_extension(self, call: Call, customer: str, number: str, hops: int) -> None:
        sw = self.switch
        ext = sw.directory.extension(customer, number)
        if ext is None:
            call.reject(404, sw.now)
            return
        call.step = RingStep(ext, customer, hops)
        if not self.ring_extensions(call, [(customer, number)]):
            self.fall_back(call, "unavailable")
            return
        self._arm(call, no_answer_seconds(ext))

    def _ring_calling_group(self, call: Call, customer: str, number: str, hops: int) -> None:
        sw = self.switch
        group = sw.directory.calling_group(customer, number)
        if group is None:
            call.reject(404, sw.now)
            return
        call.step = RingStep(group, customer, hops)
        # Every member's every contact at once (seed 003); the first answer wins.
        if not self.ring_extensions(call, [(customer, m) for m in group.members]):
            self.fall_back(call, "unavailable")
            return
        self._arm(call, group.ring_seconds)

    def _ring_trunk(self, call: Call, customer: str, trunk_name: str, number: str) -> None:
        sw = self.switch
        trunk = own_trunk(sw.directory, customer, trunk_name)
        # Re-checked for every leg (forward, coverage, overflow): never another's trunk.
        if trunk is None or not trunk_allowed(customer, trunk):
            call.reject(403, sw.now)
            return
        call.step = RingStep(None, customer, 0)
        transport = transport_of(trunk.transport)
        target = SipUri(host=trunk.host, user=number, port=trunk.port)
        owner = sw.directory.customer(customer)
        if owner is None:
            call.reject(404, sw.now)
            return
        domain = owner.domain
        invite = build_outbound_invite(call, None, domain, target, number, sw.ids.call_id(),
                                       sw.ids.tag(), sw.contact_for(transport))
        fork = OutboundLeg(invite, ((trunk.host, trunk.port), transport), None, sw.now)
        call.ring(fork, sw.now)
        self._arm(call, None)

    def ring_extensions(self, call: Call, targets: list[ExtensionKey]) -> bool:
        """Fork the call to every registered contact of every target; False if none."""
        sw = self.switch
        rang = False
        for key in targets:
            customer = sw.directory.customer(key[0])
            if customer is None:
                continue
            aor = f"{key[1]}@{customer.domain}"
            for binding in sw.location.bindings(aor, sw.now):
                fork = self._fork_to(call, key, customer.domain, binding)
                if fork is not None:
                    call.ring(fork, sw.now)
                    rang = True
        return rang

    def _fork_to(self, call: Call, callee: ExtensionKey, domain: str,
                 binding: Binding) -> OutboundLeg | None:
        sw = self.switch
        try:
            target = parse_uri(binding.contact)
        except ParseError:
            log.warning("registrar.bad_contact", contact=binding.contact)
            return None
        transport = transport_of(binding.transport)
        invite = build_outbound_invite(call, callee, domain, target, callee[1],
                                       sw.ids.call_id(), sw.ids.tag(), sw.contact_for(transport))
        return OutboundLeg(invite, (binding.source, transport), callee, sw.now)

    def _arm(self, call: Call, seconds: float | None) -> None:
        sw = self.switch
        if call.timer is not None:
            call.timer.cancel()
        limit = MAX_RING_SECONDS if seconds is None else float(seconds)
        call.timer = sw.timers.call_at(sw.now + limit, lambda now: self._ring_timeout(call))

    def _ring_timeout(self, call: Call) -> None:
        if call.phase is not CallPhase.ALERTING:
            return
        step = call.step
        if step is not None and isinstance(step.owner, HuntGroup):
            self.switch.hunting.member_rang_out(call, step)
            return
        call.cancel_forks(self.switch.now, None)
        self.fall_back(call, "no_answer")

    # -- failures and coverage --------------------------------------------------------------
    def fork_failed(self, call: Call, responses: list[int]) -> bool:
        """Every fork of the current step failed; True when a fallback took the call."""
        step = call.step
        if step is None or step.owner is None:
            return False
        if isinstance(step.owner, HuntGroup):
            # A member who is busy or declines: hunt on at once (seed 002).
            return self.switch.hunting.next_member(call, step)
        busy = any(s in (486, 600) for s in responses)
        return self.fall_back(call, "busy" if busy else "no_answer", responses)

    def fall_back(self, call: Call, reason: CoverageReason,
                  responses: list[int] | None = None) -> bool:
        """Send the call to its owner's coverage, or refuse it: 486 busy, else 480."""
        sw = self.switch
        step = call.step
        if call.timer is not None:
            call.timer.cancel()
        target = None
        if step is not None and step.owner is not None and step.hops < MAX_COVERAGE_HOPS:
            if isinstance(step.owner, HuntGroup):
                target = hunt_fallback(step.owner, reason)
            else:
                target = coverage_for(reason, step.owner)
        if target is None or step is None:
            if responses:
                call.reject(best_failure(responses), sw.now)
            else:
                call.reject(486 if reason == "busy" else 480, sw.now)
            return True
        decision = resolve_target(step.customer, target, sw.directory)
        call.log.info("call.coverage", reason=reason, target=str(target),
                      decision=type(decision).__name__)
        self.carry_out(call, decision, hops=step.hops + 1)
        return True

    def call_ended(self, call: Call) -> None:
        if call.timer is not None:
            call.timer.cancel()


def dialed_number(request: Request) -> str | None:
    uri = request.uri
    if isinstance(uri, TelUri):
        return uri.number
    if isinstance(uri, SipUri):
        return uri.user
    return None


def build_outbound_invite(call: Call, callee: ExtensionKey | None, domain: str, target: Uri,
                          to_user: str, call_id: str, from_tag: str, contact: str) -> Request:
    """The INVITE for one fork: new Call-ID and tags, the caller's identity and offer."""
    a = call.a.invite
    caller = call.a.caller
    caller_from = a.from_
    caller_number = caller[1] if caller is not None else (caller_from.uri.user or "anonymous")
    from_addr = NameAddr(uri=SipUri(host=domain, user=caller_number),
                         display=caller_from.display, params=(("tag", from_tag),))
    to_addr = NameAddr(uri=SipUri(host=domain, user=to_user))
    mf = a.max_forwards
    headers = [
        ("from", str(from_addr)),
        ("to", str(to_addr)),
        ("call-id", call_id),
        ("cseq", "1 INVITE"),
        ("max-forwards", str((mf if mf is not None else 70) - 1)),
        ("contact", contact),
        ("allow", ALLOW),
    ]
    content_type = a.get("content-type")
    if a.body and content_type is not None:
        headers.append(("content-type", content_type))
    return Request("INVITE", target, headers, a.body)
