"""CallRouter: an INVITE outside a dialog becomes a Call, and each routing decision is carried out.

Who may call and what the dialled string means are decided by the pure policies in
`routing/`; this module admits the INVITE (Max-Forwards, URI scheme; Require is checked for
every request by the dispatcher), finds
the caller (a trunk by its address, else a phone by digest), asks `routing.route()` and
hands the decision to the one place that carries it out (`Destinations`): the ringer
for extensions and trunks, a feature module for everything else. Coverage comes back
here through `carry_out`, so a fallback to a hunt group or voicemail works as a
dialled call would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import structlog

from sipstack.errors import ParseError
from sipstack.events import RequestReceived
from sipstack.message import Request
from sipstack.uri import SipUri, TelUri

from ..admission import customer_of
from ..ports import DirectoryRef, Gate, Replies
from ..routing import (
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
    route,
)
from .call import Call
from .session_timer import MIN_SE, too_small

log = structlog.get_logger("switch.router")

MemberCode = HuntLogin | HuntLogout | HuntBlock | HuntUnblock
# Decisions whose call rings phones or a trunk (the others are answered by the switch)
RINGS_PHONES = (RingExtension, RingCallingGroup, RingHuntGroup, OutboundTrunk)
OpenCall = Callable[[RequestReceived, Caller, float], Call]


@dataclass(frozen=True, slots=True)
class Destinations:
    """Who carries out each kind of decision (wired once by `switch.core`)."""

    extension: Callable[[Call, RingExtension, int, float], None]
    trunk: Callable[[Call, OutboundTrunk, int, float], None]
    calling_group: Callable[[Call, RingCallingGroup, int, float], None]
    hunt_group: Callable[[Call, RingHuntGroup, int, float], None]
    pickup: Callable[[Call, Pickup, float], None]
    replaces: Callable[[Call, str, float], None]
    member_code: Callable[[Call, MemberCode, float], None]
    voicemail: Callable[[Call, Voicemail, float], None]


class CallRouter:
    def __init__(
        self,
        *,
        directory: DirectoryRef,
        replies: Replies,
        gate: Gate,
        open_call: OpenCall,
        invite_401_user_agents: tuple[str, ...] = (),
    ) -> None:
        self._directory = directory
        self._replies = replies
        self._gate = gate
        self._open_call = open_call
        self.invite_401_user_agents = invite_401_user_agents
        self._destinations: Destinations | None = None

    def connect(self, destinations: Destinations) -> None:
        self._destinations = destinations

    # -- new calls -------------------------------------------------------------------
    def on_invite(self, event: RequestReceived, now: float) -> None:
        request = event.request
        if not self._acceptable(request, now):
            return
        caller = self._identify_caller(event, now)
        if caller is None:
            return
        replaces = request.get("replaces")
        if replaces is not None and caller.extension is not None:
            # RFC 3891: the INVITE names a dialog of ours, not a number to route
            to = self._destinations
            assert to is not None
            to.replaces(self._open_call(event, caller, now), replaces, now)
            return
        dialed = dialed_number(request)
        if not dialed:
            self._replies.reply(request, 404, now)
            return
        decision = route(dialed, caller, self._directory.current)
        log.info(
            "call.route",
            call_id=request.call_id,
            caller=caller.extension,
            customer=caller.customer,
            trunk=caller.from_trunk.name if caller.from_trunk else None,
            dialed=dialed,
            decision=type(decision).__name__,
        )
        if isinstance(decision, Reject):
            self._replies.reply(request, decision.status, now, decision.reason)
            return
        call = self._open_call(event, caller, now)
        if isinstance(decision, RINGS_PHONES):
            # the caller's offer goes to phones or a carrier: through the media relay
            # first, so every fork of every step is offered the relay's SDP
            call.anchor_offer(lambda at: self.carry_out(call, decision, 0, at), now)
        else:
            self.carry_out(call, decision, 0, now)

    def _acceptable(self, request: Request, now: float) -> bool:
        reply = self._replies.reply
        try:
            max_forwards = request.max_forwards
        except ParseError as exc:
            reply(request, 400, now, exc.reason)
            return False
        if max_forwards == 0:
            reply(request, 483, now)
            return False
        if too_small(request):
            # RFC 4028 §9: an interval below our Min-SE gets 422 with the Min-SE we take
            reply(request, 422, now, headers=[("min-se", str(MIN_SE))])
            return False
        if not isinstance(request.uri, SipUri | TelUri):
            reply(request, 416, now)
            return False
        return True

    def _identify_caller(self, event: RequestReceived, now: float) -> Caller | None:
        """A trunk by its address, else a phone by digest credentials of its domain."""
        directory = self._directory.current
        request = event.request
        trunk = directory.trunk_by_source(*event.source)
        if trunk is not None:
            return Caller(trunk[0].name, None, trunk[1])
        customer = customer_of(directory, request)
        if customer is None:
            self._replies.reply(request, 403, now, "Forbidden (unknown domain)")
            return None
        password_of = partial(directory.password, customer.name)
        header = self._credentials_header(request)
        username = self._gate.authenticate(event, customer.domain, header, password_of, now)
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
        if any(agent.startswith(prefix) for prefix in self.invite_401_user_agents):
            return "authorization"
        return "proxy-authorization"

    # -- carrying out decisions -------------------------------------------------------------
    def carry_out(self, call: Call, decision: RouteDecision, hops: int, now: float) -> None:
        to = self._destinations
        assert to is not None, "CallRouter.connect() was not called"
        match decision:
            case Reject(status=status, reason=reason):
                call.reject(status, now, reason)
            case RingExtension():
                to.extension(call, decision, hops, now)
            case RingCallingGroup():
                to.calling_group(call, decision, hops, now)
            case RingHuntGroup():
                to.hunt_group(call, decision, hops, now)
            case OutboundTrunk():
                to.trunk(call, decision, hops, now)
            case Pickup():
                to.pickup(call, decision, now)
            case HuntLogin() | HuntLogout() | HuntBlock() | HuntUnblock():
                to.member_code(call, decision, now)
            case Voicemail():
                to.voicemail(call, decision, now)


def dialed_number(request: Request) -> str | None:
    uri = request.uri
    if isinstance(uri, TelUri):
        return uri.number
    if isinstance(uri, SipUri):
        return uri.user
    return None
