"""Hunt groups on the wire: one member at a time, then the group's fallback.

Who is offered the call, in what order, and where it goes when nobody answers are the
pure policies of `routing/hunt.py` (docs/PRODUCT.md, "Hunt groups"). Here each member's
contacts ring for the group's `ring_seconds`; a member who is busy or declines is passed
over at once; a dynamic `auto_logout` member who lets a call ring out is logged out; the
round-robin cursor and member state live in the persistent `HuntState`.
"""

from __future__ import annotations

from ..calls.call import Call
from ..calls.line_state import ExtensionStates
from ..calls.ports import RingControl
from ..calls.ring_step import RingStep
from ..directory import HuntGroup
from ..ports import DirectoryRef, Registrations
from ..routing import RingHuntGroup, hunt_order, logs_out_on_ring_out, member_available
from ..storage.hunt_state import HuntState


class MemberView:
    """`routing.hunt.MemberStatus` for one customer at one instant."""

    __slots__ = ("_registrations", "_lines", "_state", "customer", "domain", "now")

    def __init__(
        self,
        registrations: Registrations,
        lines: ExtensionStates,
        state: HuntState,
        customer: str,
        domain: str,
        now: float,
    ) -> None:
        self._registrations = registrations
        self._lines = lines
        self._state = state
        self.customer = customer
        self.domain = domain
        self.now = now

    def registered(self, number: str) -> bool:
        return bool(self._registrations.bindings(f"{number}@{self.domain}", self.now))

    def busy(self, number: str) -> bool:
        return self._lines.is_busy((self.customer, number))

    def blocked(self, number: str) -> bool:
        return self._state.blocked(self.customer, number)

    def logged_in(self, group: str, number: str) -> bool:
        return self._state.logged_in(self.customer, group, number)


class HuntRound:
    """One hunt call's progress: the members still to try and the one ringing now."""

    __slots__ = ("call", "group", "customer", "members", "member", "nobody_free")

    def __init__(self, call: Call, group: HuntGroup, customer: str, members: list[str]) -> None:
        self.call = call
        self.group = group
        self.customer = customer
        self.members = members
        self.member: str | None = None
        self.nobody_free = not members


class HuntGroups:
    def __init__(
        self,
        *,
        directory: DirectoryRef,
        registrations: Registrations,
        lines: ExtensionStates,
        state: HuntState,
        ringer: RingControl,
    ) -> None:
        self._directory = directory
        self._registrations = registrations
        self._lines = lines
        self._state = state
        self._ringer = ringer

    def _view(self, customer: str, now: float) -> MemberView | None:
        found = self._directory.current.customer(customer)
        if found is None:
            return None
        return MemberView(
            self._registrations, self._lines, self._state, customer, found.domain, now
        )

    def start(self, call: Call, decision: RingHuntGroup, hops: int, now: float) -> None:
        customer, number = decision.customer, decision.number
        group = self._directory.current.hunt_group(customer, number)
        view = self._view(customer, now)
        if group is None or view is None:
            call.reject(404, now)
            return
        cursor = self._state.cursor(customer, number)
        members, next_cursor = hunt_order(group, cursor, lambda m: member_available(group, m, view))
        self._state.set_cursor(customer, number, next_cursor)
        hunt = HuntRound(call, group, customer, list(members))
        call.begin_step(
            RingStep(
                group,
                customer,
                hops,
                # A member who is busy or declines: hunt on at once.
                on_all_failed=lambda _responses, at: self._next_member(hunt, at),
                on_ring_out=lambda at: self._member_rang_out(hunt, at),
            )
        )
        call.log.info("hunt.start", group=number, order=list(members), cursor=cursor)
        if not self._next_member(hunt, now):
            call.reject(480, now)

    def _next_member(self, hunt: HuntRound, now: float) -> bool:
        """Ring the next free member; with none left, the group's fallback. Always True
        unless the call could not be placed at all."""
        call, group = hunt.call, hunt.group
        view = self._view(hunt.customer, now)
        while hunt.members and view is not None:
            member = hunt.members.pop(0)
            # State changes while earlier members ring: check again just before ringing.
            if not member_available(group, member, view):
                continue
            hunt.member = member
            if self._ringer.ring_extensions(call, [(hunt.customer, member)], now):
                call.log.info("hunt.member", group=group.number, member=member)
                self._ringer.arm(call, group.ring_seconds, now)
                return True
        hunt.member = None
        return self._ringer.fall_back(call, "busy" if hunt.nobody_free else "no_answer", now)

    def _member_rang_out(self, hunt: HuntRound, now: float) -> None:
        """The member let it ring `ring_seconds`: cancel, maybe log them out, hunt on."""
        call, group = hunt.call, hunt.group
        call.cancel_forks(now, None)
        member = hunt.member
        if member is not None and logs_out_on_ring_out(group):
            self._state.set_logged_in(hunt.customer, group.number, member, False)
            call.log.info("hunt.auto_logout", group=group.number, member=member)
        self._next_member(hunt, now)
