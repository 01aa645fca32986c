"""Hunt groups on the wire (seeds 002 and 003): one member at a time, then the fallback.

Who is offered the call, in what order, and where it goes when nobody answers are
the pure policies of `routing/hunt.py`; this module rings each member's contacts
for `ring_seconds`, hunts on when a member is busy, declines or rings out, logs
out a dynamic `auto_logout` member who let a call ring out, and keeps the
round-robin cursor and member state in the persistent HuntState.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .call import Call
from .directory import HuntGroup
from .hunt_state import HuntState
from .ring_step import RingStep
from .routing import hunt_order, logs_out_on_ring_out, member_available

if TYPE_CHECKING:
    from .core import Switch


class MemberView:
    """`routing.hunt.MemberStatus` for one customer, read from the live switch."""

    __slots__ = ("switch", "customer", "domain")

    def __init__(self, switch: Switch, customer: str, domain: str) -> None:
        self.switch = switch
        self.customer = customer
        self.domain = domain

    def registered(self, number: str) -> bool:
        sw = self.switch
        return bool(sw.location.bindings(f"{number}@{self.domain}", sw.now))

    def busy(self, number: str) -> bool:
        return self.switch.states.is_busy((self.customer, number))

    def blocked(self, number: str) -> bool:
        return self.switch.hunt_state.blocked(self.customer, number)

    def logged_in(self, group: str, number: str) -> bool:
        return self.switch.hunt_state.logged_in(self.customer, group, number)


class HuntRunner:
    def __init__(self, switch: Switch, state: HuntState) -> None:
        self.switch = switch
        self.state = state

    def _view(self, customer: str) -> MemberView | None:
        found = self.switch.directory.customer(customer)
        return MemberView(self.switch, customer, found.domain) if found is not None else None

    def start(self, call: Call, customer: str, number: str, hops: int) -> None:

        sw = self.switch
        group = sw.directory.hunt_group(customer, number)
        view = self._view(customer)
        if group is None or view is None:
            call.reject(404, sw.now)
            return
        cursor = self.state.cursor(customer, number)
        members, next_cursor = hunt_order(
            group, cursor, lambda m: member_available(group, m, view))
        self.state.set_cursor(customer, number, next_cursor)
        step = RingStep(group, customer, hops)
        step.members = list(members)
        step.nobody_free = not members
        call.step = step
        call.log.info("hunt.start", group=number, order=list(members), cursor=cursor)
        if not self.next_member(call, step):
            call.reject(480, sw.now)

    def next_member(self, call: Call, step: RingStep) -> bool:
        """Ring the next free member; with none left, the group's fallback. Always True
        unless the call could not be placed at all."""
        sw = self.switch
        group = step.owner
        assert isinstance(group, HuntGroup)
        view = self._view(step.customer)
        while step.members and view is not None:
            member = step.members.pop(0)
            # State changes while earlier members ring: check again just before ringing.
            if not member_available(group, member, view):
                continue
            step.member = member
            if sw.router.ring_extensions(call, [(step.customer, member)]):
                call.log.info("hunt.member", group=group.number, member=member)
                sw.router._arm(call, group.ring_seconds)
                return True
        step.member = None
        return sw.router.fall_back(call, "busy" if step.nobody_free else "no_answer")

    def member_rang_out(self, call: Call, step: RingStep) -> None:
        """The member let it ring `ring_seconds`: cancel, maybe log them out, hunt on."""
        sw = self.switch
        group = step.owner
        assert isinstance(group, HuntGroup)
        call.cancel_forks(sw.now, None)
        member = step.member
        if member is not None and logs_out_on_ring_out(group):
            self.state.set_logged_in(step.customer, group.number, member, False)
            call.log.info("hunt.auto_logout", group=group.number, member=member)
        self.next_member(call, step)
