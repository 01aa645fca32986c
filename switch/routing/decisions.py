"""What a dialled string means: the closed set of decisions the router carries out.

Every decision is a frozen msgspec Struct holding only names and numbers from the directory
(never a socket, a clock or a call object), so routing stays a pure function and a decision can
be logged, compared and asserted on as it is. `RouteDecision` is the closed union the router
matches on exhaustively.
"""

from __future__ import annotations

from typing import Literal, assert_never

import msgspec

from ..directory import CallingGroup, Extension, HuntGroup, Trunk

__all__ = [
    "Caller",
    "HuntBlock",
    "HuntLogin",
    "HuntLogout",
    "HuntUnblock",
    "OutboundTrunk",
    "Pickup",
    "PickupKind",
    "Reject",
    "RingCallingGroup",
    "RingDecision",
    "RingExtension",
    "RingHuntGroup",
    "RouteDecision",
    "Voicemail",
    "ring",
]


class Caller(msgspec.Struct, frozen=True):
    """Who dials: a phone of `customer` (`extension` set), or a carrier trunk (`from_trunk` set;
    `customer` is then the trunk's customer and `extension` is None)."""

    customer: str
    extension: str | None
    from_trunk: Trunk | None = None


# --- ringing ------------------------------------------------------------------------------


class RingExtension(msgspec.Struct, frozen=True):
    """Ring every registered contact of one extension (forking); then its own coverage."""

    customer: str
    number: str


class RingHuntGroup(msgspec.Struct, frozen=True):
    """Offer the call to the group's free members one at a time (`hunt.hunt_order`)."""

    customer: str
    number: str


class RingCallingGroup(msgspec.Struct, frozen=True):
    """Ring every member at once; the first answer wins, the others are cancelled."""

    customer: str
    number: str


RingDecision = RingExtension | RingHuntGroup | RingCallingGroup


def ring(target: Extension | HuntGroup | CallingGroup) -> RingDecision:
    """The decision that rings a dialable number of the directory."""
    match target:
        case Extension(customer=customer, number=number):
            return RingExtension(customer, number)
        case HuntGroup(customer=customer, number=number):
            return RingHuntGroup(customer, number)
        case CallingGroup(customer=customer, number=number):
            return RingCallingGroup(customer, number)
        case _:
            assert_never(target)


# --- feature codes ------------------------------------------------------------------------

PickupKind = Literal["any", "group", "extension"]


class Pickup(msgspec.Struct, frozen=True):
    """Answer a call ringing elsewhere (`pickup.choose_pickup` picks which).

    `kind` "any": the caller's pickup groups (`target` None); "group": the pickup group numbered
    `target`; "extension": the extension `target`. Membership and `allow_pickup` are already
    checked when this decision is made.
    """

    kind: PickupKind
    customer: str
    target: str | None


class HuntLogin(msgspec.Struct, frozen=True):
    """Log `extension` into the dynamic hunt group `group` (password already verified)."""

    customer: str
    group: str
    extension: str


class HuntLogout(msgspec.Struct, frozen=True):
    """Log `extension` out of the dynamic hunt group `group`."""

    customer: str
    group: str
    extension: str


class HuntBlock(msgspec.Struct, frozen=True):
    """Skip `extension` in every hunt group until it unblocks (persisted by the router)."""

    customer: str
    extension: str


class HuntUnblock(msgspec.Struct, frozen=True):
    customer: str
    extension: str


class Voicemail(msgspec.Struct, frozen=True):
    """The voicemail box of extension `box`: "retrieve" is the owner listening to it (the
    voicemail feature code), "deposit" a caller leaving a message (coverage, trunk inbound)."""

    customer: str
    box: str
    mode: Literal["deposit", "retrieve"] = "deposit"


# --- leaving the switch / refusing --------------------------------------------------------


class OutboundTrunk(msgspec.Struct, frozen=True):
    """Send the call to `number` (prefix already stripped) on trunk `trunk` of `customer`.

    The trunk is always one of `customer`'s own; the router still re-checks
    `customers.trunk_allowed` before the leg goes out.
    """

    customer: str
    trunk: str
    number: str


class Reject(msgspec.Struct, frozen=True):
    """Answer the INVITE with a final `status` (reason phrase: the standard one if None)."""

    status: int
    reason: str | None = None


RouteDecision = (
    RingExtension
    | RingHuntGroup
    | RingCallingGroup
    | Pickup
    | HuntLogin
    | HuntLogout
    | HuntBlock
    | HuntUnblock
    | Voicemail
    | OutboundTrunk
    | Reject
)
