"""Routing policies: pure functions from a dialled string and a snapshot to a decision.

Nothing here sends SIP, reads a clock or touches storage. `dialplan.route()` returns a
`RouteDecision`; the router (`switch/router.py`) carries it out, using the helpers of
`hunt.py` (who to offer a hunt call to), `pickup.py` (which ringing call a picker gets),
`coverage.py` (where an unanswered call goes) and `customers.py` (the trunk rule) as it goes.

One home per feature: `features.py` (feature codes), `pickup.py` (pickup, pickup groups),
`hunt.py` (hunt groups), `coverage.py` (coverage paths), `customers.py` (customers, trunks),
`decisions.py` (the closed set of decisions), `dialplan.py` (the order the rules apply in).
"""

from .coverage import CoverageOwner, CoverageReason, coverage_for, no_answer_seconds, resolve_target
from .customers import own_trunk, trunk_allowed
from .decisions import (
    Caller,
    HuntBlock,
    HuntLogin,
    HuntLogout,
    HuntUnblock,
    OutboundTrunk,
    Pickup,
    PickupKind,
    Reject,
    RingCallingGroup,
    RingDecision,
    RingExtension,
    RingHuntGroup,
    RouteDecision,
    Voicemail,
)
from .dialplan import route
from .hunt import (
    MemberSnapshot,
    MemberStatus,
    availability,
    hunt_fallback,
    hunt_order,
    logs_out_on_ring_out,
    member_available,
)
from .pickup import RingingCall, choose_pickup

__all__ = [
    "Caller",
    "CoverageOwner",
    "CoverageReason",
    "HuntBlock",
    "HuntLogin",
    "HuntLogout",
    "HuntUnblock",
    "MemberSnapshot",
    "MemberStatus",
    "OutboundTrunk",
    "Pickup",
    "PickupKind",
    "Reject",
    "RingCallingGroup",
    "RingDecision",
    "RingExtension",
    "RingHuntGroup",
    "RingingCall",
    "RouteDecision",
    "Voicemail",
    "availability",
    "choose_pickup",
    "coverage_for",
    "hunt_fallback",
    "hunt_order",
    "logs_out_on_ring_out",
    "member_available",
    "no_answer_seconds",
    "own_trunk",
    "resolve_target",
    "route",
    "trunk_allowed",
]
