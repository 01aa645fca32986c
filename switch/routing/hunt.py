"""Hunt groups (docs/PRODUCT.md, "Hunt groups"; docs/BEHAVIOUR.md#hunt-groups).

Who is offered a hunt call, in what order, and the login / logout / block feature codes.

Availability. A member is offered a call only when it has a registered contact, is not on a
call (the switch's own call state), has not blocked hunting, and, in a dynamic group, is
logged in. `MemberStatus` is the view the router feeds this from its stores; nothing here
reads them itself.

Round-robin cursor. The cursor is the index in `members` where the next call starts looking.
A call *starts at* the first member actually offered it: the first available member at or
after the cursor, wrapping. The next cursor is the index just after that member. So a busy
member is skipped without consuming a turn, and over members that stay free the starts are
spread evenly (nine calls over three free members start three times at each). When no member
is free nobody was offered the call and the cursor stays where it was. The cursor is taken
modulo the member count, so one persisted across a reload that shortened the list is still
valid.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Protocol, assert_never

import msgspec

from ..directory import CoverageTarget, Directory, HuntGroup, ToVoicemail
from .coverage import CoverageReason, coverage_for
from .decisions import Caller, HuntBlock, HuntLogin, HuntLogout, HuntUnblock, Reject

__all__ = [
    "MemberSnapshot",
    "MemberStatus",
    "availability",
    "hunt_block",
    "hunt_fallback",
    "hunt_login",
    "hunt_logout",
    "hunt_order",
    "logs_out_on_ring_out",
    "member_available",
]


class MemberStatus(Protocol):
    """What the router knows about the extensions of one customer (numbers are that
    customer's); `group` in `logged_in` is a hunt group number of the same customer."""

    def registered(self, number: str) -> bool: ...

    def busy(self, number: str) -> bool: ...

    def blocked(self, number: str) -> bool: ...

    def logged_in(self, group: str, number: str) -> bool: ...


class MemberSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A `MemberStatus` from plain sets (tests, or a router that snapshots its stores)."""

    registered_numbers: frozenset[str] = frozenset()
    busy_numbers: frozenset[str] = frozenset()
    blocked_numbers: frozenset[str] = frozenset()
    logins: frozenset[tuple[str, str]] = frozenset()
    """(group number, extension number) pairs logged in."""

    def registered(self, number: str) -> bool:
        return number in self.registered_numbers

    def busy(self, number: str) -> bool:
        return number in self.busy_numbers

    def blocked(self, number: str) -> bool:
        return number in self.blocked_numbers

    def logged_in(self, group: str, number: str) -> bool:
        return (group, number) in self.logins


def member_available(group: HuntGroup, number: str, status: MemberStatus) -> bool:
    """May `number` be offered a call of `group` now? (Re-check it just before ringing each
    member: state changes while earlier members ring.)"""
    if group.dynamic and not status.logged_in(group.number, number):
        return False
    return status.registered(number) and not status.busy(number) and not status.blocked(number)


def availability(group: HuntGroup, status: MemberStatus) -> Callable[[str], bool]:
    """`member_available` bound to one group, as `hunt_order` takes it."""
    return lambda number: member_available(group, number, status)


def hunt_order(
    group: HuntGroup, start_cursor: int, available: Callable[[str], bool]
) -> tuple[tuple[str, ...], int]:
    """The members to offer a new call to, in order, and the cursor for the next call.

    `sequential`: every available member from the first; the cursor is returned unchanged.
    `round_robin`: every available member from the cursor on, wrapping once round the list;
    the next cursor is just after the member the call starts at (see the module docstring).
    An empty tuple means nobody is free: the call goes to `hunt_fallback`.
    """
    members = group.members
    if not members:
        return (), start_cursor
    match group.strategy:
        case "sequential":
            return tuple(m for m in members if available(m)), start_cursor
        case "round_robin":
            count = len(members)
            start = start_cursor % count
            wrapped = ((i % count, members[i % count]) for i in range(start, start + count))
            free = [(i, m) for i, m in wrapped if available(m)]
            if not free:
                return (), start
            return tuple(m for _, m in free), (free[0][0] + 1) % count
        case _:
            assert_never(group.strategy)


def hunt_fallback(group: HuntGroup, reason: CoverageReason = "no_answer") -> CoverageTarget:
    """Where a hunt call goes when no member answers ("no_answer") or none is free ("busy"):
    the group's coverage, else the voicemail of `default` (else of the last member)."""
    target = coverage_for(reason, group)
    # None only for a group with no members and no default, which the configuration checker
    # refuses; the empty box then resolves to a 404 (`resolve_target`), never a crash.
    return target if target is not None else ToVoicemail(box=group.default_box)


def logs_out_on_ring_out(group: HuntGroup) -> bool:
    """True if a member who lets a call of `group` ring out is logged out (`auto_logout`)."""
    return group.dynamic and group.auto_logout


# --- feature codes -------------------------------------------------------------------------


def _dynamic_membership(
    group_number: str, caller: Caller, directory: Directory
) -> tuple[HuntGroup, str] | Reject:
    """The dynamic group and the caller's extension, or 403 (not a dynamic hunt group of the
    caller's customer, or the caller is not one of its listed members)."""
    if caller.extension is None:
        return Reject(403)
    group = directory.hunt_group(caller.customer, group_number)
    if group is None or not group.dynamic or caller.extension not in group.members:
        return Reject(403)
    return group, caller.extension


def hunt_login(rest: str, caller: Caller, directory: Directory) -> HuntLogin | Reject:
    """`rest` is what follows the login code: group number, `*`, password."""
    group_number, sep, password = rest.partition("*")
    found = _dynamic_membership(group_number, caller, directory)
    if isinstance(found, Reject):
        return found
    group, extension = found
    # compare_digest: the answer time must not tell how much of a guess was right.
    if (
        not sep
        or group.password is None
        or not hmac.compare_digest(password.encode(), group.password.encode())
    ):
        return Reject(403)
    return HuntLogin(caller.customer, group.number, extension)


def hunt_logout(rest: str, caller: Caller, directory: Directory) -> HuntLogout | Reject:
    """`rest` is the group number."""
    found = _dynamic_membership(rest, caller, directory)
    if isinstance(found, Reject):
        return found
    group, extension = found
    return HuntLogout(caller.customer, group.number, extension)


def hunt_block(
    rest: str, caller: Caller, directory: Directory, *, block: bool
) -> HuntBlock | HuntUnblock | Reject:
    """Block (or unblock) the caller's own extension from hunting; nothing may follow the
    code (404 otherwise, like any unknown number)."""
    if rest:
        return Reject(404)
    if caller.extension is None or directory.extension(caller.customer, caller.extension) is None:
        return Reject(403)
    if block:
        return HuntBlock(caller.customer, caller.extension)
    return HuntUnblock(caller.customer, caller.extension)
