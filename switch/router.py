"""CallRouter: turns an authenticated INVITE into a Call and carries out the route decision.

The decision itself comes from the pure policies in `routing/`; this module only
knows how to put legs on the wire for each kind of decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from sipstack.errors import ParseError
from sipstack.events import RequestReceived
from sipstack.header_values import NameAddr
from sipstack.message import Request
from sipstack.transport import Transport
from sipstack.uri import SipUri, TelUri, parse_uri

from .call import ALLOW, Call
from .extension_state import ExtensionKey
from .leg import InboundLeg, OutboundLeg
from .location import Binding
from .routing import Caller, Reject, RingExtension, RouteDecision, route

if TYPE_CHECKING:
    from .core import Switch

log = structlog.get_logger("switch.router")

# How long an extension rings with no coverage configured before the caller hears
# 480 (RFC 3261 Timer C is "greater than 3 minutes" for proxies; phones give up sooner).
MAX_RING_SECONDS = 180.0


class CallRouter:
    def __init__(self, switch: Switch) -> None:
        self.switch = switch

    def reload(self) -> None:
        """Nothing cached from the directory yet."""

    # -- new calls -------------------------------------------------------------------
    def on_invite(self, event: RequestReceived) -> None:
        sw = self.switch
        request = event.request
        from .core import unsupported_requires

        unsupported = unsupported_requires(request)
        if unsupported:
            sw.reply(request, 420, headers=[("unsupported", ", ".join(unsupported))])
            return
        try:
            max_forwards = request.max_forwards
        except ParseError as exc:
            sw.reply(request, 400, exc.reason)
            return
        if max_forwards == 0:
            sw.reply(request, 483)
            return
        if not isinstance(request.uri, SipUri | TelUri):
            sw.reply(request, 416)
            return
        caller = self._authenticate_caller(event)
        if caller is None:
            return
        dialed = dialed_number(request)
        if not dialed:
            sw.reply(request, 404)
            return
        decision = route(dialed, Caller(caller[0], caller[1]), sw.directory)
        log.info("call.route", call_id=request.call_id, caller=caller[1], customer=caller[0],
                 dialed=dialed, decision=type(decision).__name__)
        self._carry_out(decision, event, caller)

    def _authenticate_caller(self, event: RequestReceived) -> ExtensionKey | None:
        sw = self.switch
        request = event.request
        from_uri = request.from_.uri
        host = from_uri.host if isinstance(from_uri, SipUri) else None
        customer = sw.directory.customer_by_domain(host) if host else None
        if customer is None:
            sw.reply(request, 403, "Forbidden (unknown domain)")
            return None
        directory = sw.directory
        name = customer.name

        def password_of(user: str) -> str | None:
            ext = directory.extension(name, user)
            return ext.password if ext is not None else None

        username = sw.authenticate(event, customer.domain, "proxy-authorization", password_of)
        if username is None:
            return None
        return (customer.name, username)

    def _carry_out(self, decision: RouteDecision, event: RequestReceived,
                   caller: ExtensionKey) -> None:
        sw = self.switch
        match decision:
            case Reject(status=status, reason=reason):
                sw.reply(event.request, status, reason)
            case RingExtension(customer=customer, number=number):
                call = self._new_call(event, caller)
                self.ring_extensions(call, [(customer, number)])
                if not call.forks:
                    call.reject(480, sw.now)

    def _new_call(self, event: RequestReceived, caller: ExtensionKey) -> Call:
        sw = self.switch
        assert event.tx_id is not None
        leg = InboundLeg(event.request, event.tx_id, (event.source, event.transport),
                         sw.ids.tag(), caller)
        call = Call(sw, leg)
        sw.calls[call.call_id] = call
        sw.index_tx(event.tx_id, call)
        sw.states.connect(caller, call.call_id)
        call.timer = sw.timers.call_at(sw.now + MAX_RING_SECONDS,
                                       lambda now: self._ring_timeout(call, now))
        return call

    def _ring_timeout(self, call: Call, now: float) -> None:
        from .call import CallPhase

        if call.phase is CallPhase.ALERTING:
            call.cancel_forks(now, None)
            call.reject(480, now)

    def ring_extensions(self, call: Call, targets: list[ExtensionKey]) -> None:
        """Fork the call to every registered contact of every target extension."""
        sw = self.switch
        for key in targets:
            customer = sw.directory.customer(key[0])
            if customer is None:
                continue
            aor = f"{key[1]}@{customer.domain}"
            for binding in sw.location.bindings(aor, sw.now):
                fork = self._fork_to(call, key, customer.domain, binding)
                if fork is not None:
                    call.ring(fork, sw.now)

    def _fork_to(self, call: Call, callee: ExtensionKey, domain: str,
                 binding: Binding) -> OutboundLeg | None:
        sw = self.switch
        try:
            target = parse_uri(binding.contact)
        except ParseError:
            log.warning("registrar.bad_contact", contact=binding.contact)
            return None
        transport = Transport.TCP if binding.transport.upper() == "TCP" else Transport.UDP
        invite = build_outbound_invite(call, callee, domain, target, sw.ids.call_id(),
                                       sw.ids.tag(), sw.contact_for(transport))
        return OutboundLeg(invite, (binding.source, transport), callee)

    # -- the call's end and failures ---------------------------------------------------------
    def fork_failed(self, call: Call, responses: list[int]) -> bool:
        """Every fork failed; True when a fallback took the call (coverage, next member)."""
        return False

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


def build_outbound_invite(call: Call, callee: ExtensionKey, domain: str, target: SipUri |
                          TelUri | object, call_id: str, from_tag: str, contact: str) -> Request:
    """The INVITE for one fork: new Call-ID and tags, the caller's identity and offer."""
    a = call.a.invite
    caller = call.a.caller
    caller_from = a.from_
    caller_number = caller[1] if caller is not None else (caller_from.uri.user or "anonymous")
    from_addr = NameAddr(uri=SipUri(host=domain, user=caller_number),
                         display=caller_from.display, params=(("tag", from_tag),))
    to_addr = NameAddr(uri=SipUri(host=domain, user=callee[1]))
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
    assert isinstance(target, SipUri | TelUri)
    return Request("INVITE", target, headers, a.body)
