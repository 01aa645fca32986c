"""The per-customer dial plan (contract: "Dial plan, per customer").

Order of decision: feature codes, then the customer's own numbers, then access
codes of other customers, then trunk prefixes, else 404. Only the customer's own
numbers are implemented in this module so far; each further rule is one more
small function in this folder.
"""

from __future__ import annotations

import msgspec

from ..directory import Directory


class RingExtension(msgspec.Struct, frozen=True):
    """Ring every registered contact of one extension (forking)."""

    customer: str
    number: str


class Reject(msgspec.Struct, frozen=True):
    status: int
    reason: str | None = None


RouteDecision = RingExtension | Reject


def route(dialed: str, customer: str, directory: Directory) -> RouteDecision:
    """Decide what `dialed` means for a caller of `customer`."""
    if directory.extension(customer, dialed) is not None:
        return RingExtension(customer, dialed)
    return Reject(404)
