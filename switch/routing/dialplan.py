"""The per-customer dial plan (docs/BEHAVIOUR.md#order-of-rules): `route()`.

Order of decision for a phone, each rule in its own module:

1. feature codes (`features.py`, handing on to `pickup.py` and `hunt.py`);
2. the caller's own customer's extensions, hunt groups and calling groups (pickup group
   numbers are identifiers, not destinations: they fall through to 404);
3. access codes of other customers (`customers.py`);
4. the caller's own customer's trunk prefix + number (`customers.py`);
5. anything else: 404.

The configuration checker keeps every code, number and prefix of one dial plan from being a
prefix of another, so at most one rule can match a dialled string; the order only fixes what an
unchecked configuration would mean.

A call from a carrier trunk does not use the dial plan at all: only the trunk's `inbound` map
applies, resolved in the trunk's customer, and anything else is refused (403).
"""

from __future__ import annotations

from ..directory import Directory, Trunk
from .coverage import resolve_target
from .customers import outbound_decision, route_access_code
from .decisions import Caller, Reject, RouteDecision, ring
from .features import route_feature

__all__ = ["route"]


def route(dialed: str, caller: Caller, directory: Directory) -> RouteDecision:
    """Decide what `dialed` means for `caller`."""
    if caller.from_trunk is not None:
        return _route_from_trunk(dialed, caller.from_trunk, directory)
    if not dialed:
        return Reject(404)
    feature = route_feature(dialed, caller, directory)
    if feature is not None:
        return feature
    own = directory.lookup(caller.customer, dialed)
    if own is not None:
        return ring(own)
    across = route_access_code(dialed, caller.customer, directory)
    if across is not None:
        return across
    out = outbound_decision(caller.customer, dialed, directory)
    if out is not None:
        return out
    return Reject(404)


def _route_from_trunk(dialed: str, trunk: Trunk, directory: Directory) -> RouteDecision:
    target = trunk.inbound_target(dialed)
    if target is None:
        return Reject(403)
    # Never back out on a trunk: an inbound number is a way in, not a hairpin.
    return resolve_target(trunk.customer, target, directory, allow_trunk=False)
