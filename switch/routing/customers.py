"""Customers, customer groups and trunks (docs/PRODUCT.md, "Customers and customer
groups"; docs/BEHAVIOUR.md#customer-groups-and-access-codes, #trunks-out-and-in).

Two rules live here and nowhere else:

* Calling across customers: `access code + number` reaches an extension, hunt group or calling
  group of another customer only when both share a customer group, and never a trunk.
* Trunk ownership: a call leaves only on a trunk of the customer whose dial plan sent it.
  `route()` only ever offers the caller's own trunk, and the router re-checks
  `trunk_allowed` before *every* leg it puts on a trunk (a forward, coverage or overflow may be
  computed from another customer's configuration), so a second line of defence holds even if a
  decision is built elsewhere.
"""

from __future__ import annotations

from ..directory import Customer, Directory, Trunk
from .decisions import OutboundTrunk, Reject, RouteDecision, ring

__all__ = [
    "access_code_customer",
    "outbound_decision",
    "own_trunk",
    "route_access_code",
    "trunk_allowed",
]


def trunk_allowed(customer: str, trunk: Trunk) -> bool:
    """True when a leg placed on behalf of `customer` may leave on `trunk`.

    `customer` is the one whose dial plan produced the leg: the caller's for a dialled number,
    the callee's for its coverage or forward (its own configuration sent the call there).
    """
    return trunk.customer == customer


def own_trunk(directory: Directory, customer: str, name: str) -> Trunk | None:
    """`customer`'s trunk called `name`; None for another customer's trunk (or a trunk gone
    after a reload), so looking a trunk up by name cannot cross customers either."""
    for trunk in directory.trunks(customer):
        if trunk.name == name:
            return trunk
    return None


def outbound_decision(customer: str, dialed: str, directory: Directory) -> OutboundTrunk | None:
    """Own trunk prefix + number: out on that trunk with the prefix stripped, else None.

    Only `customer`'s trunks are searched; another customer's prefix is just an unknown number.
    """
    found = directory.outbound_trunk(customer, dialed)
    if found is None:
        return None
    trunk, number = found
    return OutboundTrunk(customer, trunk.name, number)


def access_code_customer(dialed: str, directory: Directory) -> tuple[Customer, str] | None:
    """The customer whose access code starts `dialed` (longest code wins), and the rest."""
    best: tuple[Customer, str] | None = None
    for customer in directory.customers:
        code = customer.access_code
        if code and dialed.startswith(code):
            if best is None or len(code) > len(best[0].access_code or ""):
                best = (customer, dialed[len(code) :])
    return best


def route_access_code(dialed: str, caller: str, directory: Directory) -> RouteDecision | None:
    """`access code + number` dialled by a phone of customer `caller`; None if `dialed` does not
    start with an access code.

    * a customer outside the caller's customer groups: 403, whatever follows;
    * an extension, hunt group or calling group of the reached customer: ring it there;
    * a trunk prefix (the reached customer's, or the caller's own) + number: 403, trunks are
      never reachable across customers;
    * anything else: 404.

    A customer's own access code reaches its own numbers: the customer trivially shares a
    group with itself, and nothing is crossed.
    """
    found = access_code_customer(dialed, directory)
    if found is None:
        return None
    callee, rest = found
    if callee.name != caller and not directory.may_call_across(caller, callee.name):
        return Reject(403)
    target = directory.lookup(callee.name, rest)
    if target is not None:
        return ring(target)
    for owner in (callee.name, caller):
        if directory.outbound_trunk(owner, rest) is not None:
            return Reject(403)
    return Reject(404)
