"""Session timers at work on both legs of one call (RFC 4028; the rules are in
`session_timer.py`).

The call hands each leg to the refresher when the leg's session is confirmed (the 2xx the
switch sent or received) and whenever a re-INVITE or UPDATE on it succeeds. Where the
switch refreshes it sends an UPDATE (a party whose Allow lists UPDATE, §9 prefers it) or a
re-INVITE repeating the last SDP it sent that party; "If the session refresh request
transaction times out or generates a 408 or 481 response, then the UAC sends a BYE"
(§10), for both legs. Where the party refreshes and does not, the session is dead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import structlog

from sipstack.dialog import Dialog
from sipstack.message import Request, Response
from sipstack.transport import Address, Transport

from ..timers import Timer
from .session_timer import (
    TIMER,
    LegRefresh,
    LegSession,
    allows_update,
    answer_headers,
    as_uac,
    as_uas,
    request_headers,
)

# How soon to try again when another INVITE transaction is in progress on the call
# (RFC 3261 §14.1: no re-INVITE while one is pending) or the party answered with
# something else than a 2xx, 408 or 481.
RETRY_SECONDS = 5.0
# A party that refuses this many refreshes in a row (a 488 or 500 each time) never lets
# its session be refreshed: it is treated as dead, as if it answered 481.
MAX_REFUSALS = 3


class RefreshedLeg(Protocol):
    @property
    def dialog(self) -> Dialog | None: ...
    @property
    def peer(self) -> tuple[Address, Transport]: ...
    @property
    def refresh(self) -> LegRefresh: ...


class RefreshHost(Protocol):
    """What the refresher needs of the call around it."""

    @property
    def session_expires(self) -> int: ...

    def call_at(self, when: float, callback: Callable[[float], None]) -> Timer: ...
    def send_request(self, leg: RefreshedLeg, request: Request, now: float) -> str: ...
    def send_ack(self, leg: RefreshedLeg, ack: Request) -> None: ...
    def invite_pending(self) -> bool: ...
    def session_dead(self, leg: RefreshedLeg, why: str, now: float) -> None: ...
    def alive(self) -> bool: ...


class SessionRefresher:
    __slots__ = ("_host", "_sent", "log")

    def __init__(self, host: RefreshHost, call_id: str) -> None:
        self._host = host
        self._sent: dict[str, RefreshedLeg] = {}  # our refresh's tx id -> its leg
        self.log = structlog.get_logger("switch.session_timer").bind(call_id=call_id)

    @property
    def enabled(self) -> bool:
        return self._host.session_expires > 0

    # -- the switch answers a request on a leg (the caller's INVITE, a re-INVITE, UPDATE)
    def answering(self, leg: RefreshedLeg, request: Request, response: Response) -> None:
        """Negotiate the leg's timer from `request` and say so in our 2xx `response`."""
        if not self.enabled:
            return
        session = as_uas(request, self._host.session_expires)
        leg.refresh.session = session
        for name, value in answer_headers(session):
            response.add(name, value)
        response.add("supported", TIMER)

    # -- the switch sent a request on a leg and got a 2xx ------------------------------------
    def answered(self, leg: RefreshedLeg, response: Response) -> None:
        if not self.enabled:
            return
        leg.refresh.session = as_uac(response, self._host.session_expires)
        if response.cseq.method == "INVITE" and response.has("allow"):
            leg.refresh.allows_update = allows_update(response)

    def request_headers(self, leg: RefreshedLeg) -> list[tuple[str, str]]:
        """Session-Expires and Supported for a re-INVITE or UPDATE the switch sends."""
        if not self.enabled:
            return []
        return [
            *request_headers(leg.refresh.session, self._host.session_expires),
            ("supported", TIMER),
        ]

    # -- timers ---------------------------------------------------------------------------
    def refreshed(self, leg: RefreshedLeg, now: float) -> None:
        """The leg's session was confirmed or refreshed just now: wait for the next step."""
        session = leg.refresh.session
        if session is None:
            return
        self._arm(leg, session.next_step(now))

    def _arm(self, leg: RefreshedLeg, when: float) -> None:
        leg.refresh.stop()
        leg.refresh.timer = self._host.call_at(when, lambda at: self._due(leg, at))

    def _due(self, leg: RefreshedLeg, now: float) -> None:
        leg.refresh.timer = None
        session = leg.refresh.session
        if session is None or not self._host.alive():
            return
        if not session.we_refresh:
            # §10: "If no session refresh request is received before the session expires"
            self.log.warning("call.session_expired", interval=session.interval)
            self._host.session_dead(leg, "session expired", now)
        elif self._host.invite_pending():
            self._arm(leg, now + RETRY_SECONDS)
        else:
            self._send_refresh(leg, session, now)

    def _send_refresh(self, leg: RefreshedLeg, session: LegSession, now: float) -> None:
        dialog = leg.dialog
        refresh = leg.refresh
        if dialog is None:
            return
        if refresh.allows_update:
            request = dialog.create_request("UPDATE")
        elif refresh.last_sdp:
            request = dialog.create_request("INVITE", refresh.last_sdp, "application/sdp")
        else:
            self.log.info("call.session_not_refreshed", reason="no SDP to repeat, no UPDATE")
            return
        for name, value in self.request_headers(leg):
            request.add(name, value)
        self._sent[self._host.send_request(leg, request, now)] = leg
        self.log.info("call.session_refresh", method=request.method, interval=session.interval)

    # -- answers to our refreshes --------------------------------------------------------------
    def owns(self, tx_id: str) -> bool:
        return tx_id in self._sent

    def on_response(self, tx_id: str, response: Response, now: float) -> None:
        if response.status < 200:
            return
        leg = self._sent.pop(tx_id)
        dialog = leg.dialog
        if 200 <= response.status < 300 and dialog is not None:
            if response.cseq.method == "INVITE":
                # every 2xx is ACKed, even one that arrives after the call ended
                ack = dialog.create_request("ACK", cseq=response.cseq.seq)
                self._host.send_ack(leg, ack)
            if not self._host.alive():
                return
            dialog.update_target(response)
            leg.refresh.failures = 0
            self.answered(leg, response)
            self.refreshed(leg, now)
        elif response.status in (408, 481):
            self.log.warning("call.session_refresh_failed", status=response.status)
            self._host.session_dead(leg, "session refresh failed", now)
        elif leg.refresh.failures + 1 >= MAX_REFUSALS:
            self.log.warning("call.session_refresh_failed", status=response.status)
            self._host.session_dead(leg, "session refresh refused", now)
        else:
            leg.refresh.failures += 1
            self._arm(leg, now + RETRY_SECONDS)

    def on_timeout(self, tx_id: str, now: float) -> None:
        """Timer F/B or a transport failure on our refresh: the party is gone (§10)."""
        leg = self._sent.pop(tx_id)
        self.log.warning("call.session_refresh_failed", status=408)
        self._host.session_dead(leg, "session refresh failed", now)

    def stop(self, *legs: RefreshedLeg | None) -> None:
        for leg in legs:
            if leg is not None:
                leg.refresh.stop()
