"""Ringing phones for a call: forks to registered contacts and trunks, ring deadlines, coverage.

The group features decide *whom* to ring (hunt order, every member of a calling group);
this module puts each fork on the wire with the INVITE built for it, arms the step's
no-answer deadline, and, when a step fails or rings out without a hook of its own,
sends the call to its owner's coverage (`routing.coverage`) or refuses it.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from sipstack.errors import ParseError
from sipstack.header_values import NameAddr
from sipstack.ids import IdSource
from sipstack.message import Request
from sipstack.transport import Transport, transport_of
from sipstack.uri import SipUri, Uri, parse_uri

from ..directory import HuntGroup
from ..ports import Contacts, DirectoryRef, Registrations, Timers
from ..registration.location import Binding
from ..routing import (
    OutboundTrunk,
    RingExtension,
    RouteDecision,
    coverage_for,
    hunt_fallback,
    no_answer_seconds,
    own_trunk,
    resolve_target,
    trunk_allowed,
)
from ..routing.coverage import CoverageReason
from .call import ALLOW, Call, CallPhase, best_failure
from .legs import OutboundLeg
from .line_state import ExtensionKey
from .ring_step import RingStep, StepOwner
from .session_timer import TIMER, request_headers

log = structlog.get_logger("switch.ringing")

# How long a call rings with no coverage configured before the caller hears 480
# (RFC 3261 Timer C is "greater than 3 minutes" for proxies; phones give up sooner).
MAX_RING_SECONDS = 180.0
# Coverage may lead to a group whose coverage leads on: stop a loop after this many hops.
MAX_COVERAGE_HOPS = 5

CarryOut = Callable[[Call, RouteDecision, int, float], None]


class Ringer:
    """Forks, ring deadlines and coverage for every kind of call (`ports.RingControl`)."""

    def __init__(
        self,
        *,
        directory: DirectoryRef,
        registrations: Registrations,
        ids: IdSource,
        contacts: Contacts,
        timers: Timers,
        carry_out: CarryOut,
    ) -> None:
        self._directory = directory
        self._registrations = registrations
        self._ids = ids
        self._contacts = contacts
        self._timers = timers
        self._carry_out = carry_out

    # -- ring steps ------------------------------------------------------------------------
    def ring_extension(self, call: Call, decision: RingExtension, hops: int, now: float) -> None:
        ext = self._directory.current.extension(decision.customer, decision.number)
        if ext is None:
            call.reject(404, now)
            return
        targets = [(decision.customer, decision.number)]
        self.ring_owner(call, ext, decision.customer, targets, no_answer_seconds(ext), hops, now)

    def ring_owner(
        self,
        call: Call,
        owner: StepOwner,
        customer: str,
        targets: list[ExtensionKey],
        seconds: float | None,
        hops: int,
        now: float,
    ) -> None:
        """One step ringing every contact of `targets` at once (an extension, a calling
        group); when none is registered the owner's coverage for "unavailable" applies."""
        call.begin_step(RingStep(owner, customer, hops, on_all_failed=self._failed_hook(call)))
        if not self.ring_extensions(call, targets, now):
            self.fall_back(call, "unavailable", now)
            return
        self.arm(call, seconds, now)

    def ring_trunk(self, call: Call, decision: OutboundTrunk, hops: int, now: float) -> None:
        directory = self._directory.current
        trunk = own_trunk(directory, decision.customer, decision.trunk)
        owner = directory.customer(decision.customer)
        # Re-checked for every leg (forward, coverage, overflow): never another's trunk.
        if trunk is None or owner is None or not trunk_allowed(decision.customer, trunk):
            call.reject(403, now)
            return
        call.begin_step(RingStep(None, decision.customer, hops))
        transport = transport_of(trunk.transport)
        target = SipUri(host=trunk.host, user=decision.number, port=trunk.port)
        invite = self._invite(call, None, owner.domain, target, decision.number, transport)
        call.ring(OutboundLeg(invite, ((trunk.host, trunk.port), transport), None, now), now)
        self.arm(call, None, now)

    def ring_extensions(self, call: Call, targets: list[ExtensionKey], now: float) -> bool:
        """Fork the call to every registered contact of every target; False if none."""
        directory = self._directory.current
        rang = False
        for key in targets:
            customer = directory.customer(key[0])
            if customer is None:
                continue
            aor = f"{key[1]}@{customer.domain}"
            for binding in self._registrations.bindings(aor, now):
                fork = self._fork_to(call, key, customer.domain, binding, now)
                if fork is not None:
                    call.ring(fork, now)
                    rang = True
        return rang

    def _fork_to(
        self, call: Call, callee: ExtensionKey, domain: str, binding: Binding, now: float
    ) -> OutboundLeg | None:
        try:
            target = parse_uri(binding.contact)
        except ParseError:
            log.warning("registrar.bad_contact", contact=binding.contact)
            return None
        transport = transport_of(binding.transport)
        invite = self._invite(call, callee, domain, target, callee[1], transport)
        return OutboundLeg(invite, (binding.source, transport), callee, now)

    def _invite(
        self,
        call: Call,
        callee: ExtensionKey | None,
        domain: str,
        target: Uri,
        to_user: str,
        transport: Transport,
    ) -> Request:
        ids = self._ids
        contact = self._contacts.contact_for(transport)
        return build_outbound_invite(
            call, callee, domain, target, to_user, ids.call_id(), ids.tag(), contact
        )

    # -- deadlines -------------------------------------------------------------------------
    def arm(self, call: Call, seconds: float | None, now: float) -> None:
        """The current step rings for `seconds` (None: the longest a call may ring)."""
        limit = MAX_RING_SECONDS if seconds is None else float(seconds)
        call.set_ring_timer(
            self._timers.call_at(now + limit, lambda at: self._ring_timeout(call, at))
        )

    def _ring_timeout(self, call: Call, now: float) -> None:
        if call.phase is not CallPhase.ALERTING:
            return
        step = call.step
        if step is not None and step.on_ring_out is not None:
            step.on_ring_out(now)
            return
        call.cancel_forks(now, None)
        self.fall_back(call, "no_answer", now)

    # -- failures and coverage -------------------------------------------------------------
    def _failed_hook(self, call: Call) -> Callable[[list[int], float], bool]:
        def failed(responses: list[int], now: float) -> bool:
            busy = any(s in (486, 600) for s in responses)
            return self.fall_back(call, "busy" if busy else "no_answer", now, responses)

        return failed

    def fall_back(
        self,
        call: Call,
        reason: CoverageReason,
        now: float,
        responses: list[int] | None = None,
    ) -> bool:
        """Send the call to its owner's coverage, or refuse it: 486 busy, else 480."""
        call.stop_ring_timer()
        step = call.step
        target = None
        if step is not None and step.owner is not None and step.hops < MAX_COVERAGE_HOPS:
            if isinstance(step.owner, HuntGroup):
                target = hunt_fallback(step.owner, reason)
            else:
                target = coverage_for(reason, step.owner)
        if target is None or step is None:
            if responses:
                call.reject(best_failure(responses), now)
            else:
                call.reject(486 if reason == "busy" else 480, now)
            return True
        decision = resolve_target(step.customer, target, self._directory.current)
        call.log.info(
            "call.coverage", reason=reason, target=str(target), decision=type(decision).__name__
        )
        self._carry_out(call, decision, step.hops + 1, now)
        return True


def build_outbound_invite(
    call: Call,
    callee: ExtensionKey | None,
    domain: str,
    target: Uri,
    to_user: str,
    call_id: str,
    from_tag: str,
    contact: str,
) -> Request:
    """The INVITE for one fork: new Call-ID and tags, the caller's identity and offer."""
    a = call.a.invite
    caller = call.a.caller
    caller_from = a.from_
    caller_number = caller[1] if caller is not None else (caller_from.uri.user or "anonymous")
    from_addr = NameAddr(
        uri=SipUri(host=domain, user=caller_number),
        display=caller_from.display,
        params=(("tag", from_tag),),
    )
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
    if call.host.session_expires:
        # RFC 4028 §7.1: we ask for a session interval; the callee picks the refresher
        headers.append(("supported", TIMER))
        headers.extend(request_headers(None, call.host.session_expires))
    offer = call.offer_to_callees  # the caller's SDP, or the relay's in its place
    content_type = a.get("content-type")
    if offer and content_type is not None:
        headers.append(("content-type", content_type))
    return Request("INVITE", target, headers, offer)
