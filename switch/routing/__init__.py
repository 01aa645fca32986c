"""Routing policies: pure functions from a dialled string and a snapshot to a decision.

Nothing here sends SIP. `dialplan.route()` returns a `RouteDecision`; the router
(`switch/router.py`) carries it out.
"""

from .dialplan import Reject, RingExtension, RouteDecision, route

__all__ = ["Reject", "RingExtension", "RouteDecision", "route"]
