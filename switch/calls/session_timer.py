"""Session timers (RFC 4028) on each leg of a call, as a B2BUA keeps them.

Each dialog of a call (the caller's with the switch, the switch's with the callee) has a
timer of its own: its interval and who refreshes it are negotiated with that party alone,
and Session-Expires and Min-SE never pass from one leg to the other. On a leg where the
switch is the refresher it sends a refresh at half the interval (§10: "the refresher
... SHOULD send a refresh at half the session interval"); where the party refreshes, a
session not refreshed by the interval minus min(32, a third of it) is dead (§10: "the
UAS SHOULD send a BYE ... at SE - min(32, SE/3)"). Any 2xx to a re-INVITE or UPDATE on a
leg is a refresh of that leg (§10: "a session refresh request ... is any re-INVITE or
UPDATE").

This module is pure: it reads and writes headers and says when the next step is due.
"""

from __future__ import annotations

from typing import Final

from sipstack.message import Request, Response

from ..timers import Timer

MIN_SE: Final = 90  # §4: "the minimum value ... MUST NOT be less than 90 seconds"
TIMER: Final = "timer"


def _delta_and_refresher(value: str | None) -> tuple[int, str | None] | None:
    """Session-Expires `delta-seconds *(;param)`: (seconds, refresher or None)."""
    if value is None:
        return None
    first, *params = (part.strip() for part in value.split(";"))
    if not first.isdigit():
        return None
    refresher = None
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "refresher" and val.strip().lower() in ("uac", "uas"):
            refresher = val.strip().lower()
    return int(first), refresher


def requested_interval(message: Request | Response) -> int | None:
    """The Session-Expires of a message in seconds (None: absent or unreadable)."""
    parsed = _delta_and_refresher(message.get("session-expires"))
    return parsed[0] if parsed is not None else None


def min_se_of(message: Request | Response) -> int | None:
    """The Min-SE of a message (a 422's, say) in seconds (None: absent or unreadable)."""
    parsed = _delta_and_refresher(message.get("min-se"))
    return parsed[0] if parsed is not None else None


def too_small(request: Request) -> bool:
    """§9: a Session-Expires below our Min-SE is refused with 422 and our Min-SE, when
    the sender supports timers (it can retry); from one that does not, the interval is
    raised to Min-SE in our answer instead (`as_uas`), as RFC 4028's erratum 1687 reads."""
    interval = requested_interval(request)
    return interval is not None and interval < MIN_SE and supports_timer(request)


def supports_timer(message: Request | Response) -> bool:
    tags = [*message.values("supported"), *message.values("require")]
    return any(tag.lower() == TIMER for tag in tags)


class LegSession:
    """One dialog's session timer: its interval and whether the switch refreshes it."""

    __slots__ = ("interval", "we_refresh")

    def __init__(self, interval: int, we_refresh: bool) -> None:
        self.interval = interval
        self.we_refresh = we_refresh

    def next_step(self, now: float) -> float:
        """When to refresh (we refresh) or give the session up (the party refreshes)."""
        if self.we_refresh:
            return now + self.interval / 2
        return now + self.interval - min(32.0, self.interval / 3)


class LegRefresh:
    """What a leg keeps for its session timer: the negotiated timer, the pending step,
    the last SDP the switch sent that party (a re-INVITE refresh repeats it unchanged),
    and whether the party takes UPDATE (the lighter refresh, §9)."""

    __slots__ = ("session", "timer", "last_sdp", "allows_update", "failures")

    def __init__(self) -> None:
        self.session: LegSession | None = None
        self.timer: Timer | None = None
        self.last_sdp = b""
        self.allows_update = False
        self.failures = 0  # refreshes refused in a row

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def allows_update(message: Request | Response) -> bool:
    return any(method.upper() == "UPDATE" for method in message.values("allow"))


def as_uas(request: Request, default: int) -> LegSession:
    """The timer of a leg on which the switch answers `request` (an INVITE or UPDATE).

    §9: the interval is the request's Session-Expires (it passed the 422 check) or ours;
    the party refreshes when it supports timers (its own choice of refresher if it made
    one), otherwise the switch does, so a dead party is found either way."""
    parsed = _delta_and_refresher(request.get("session-expires"))
    interval = max(parsed[0] if parsed is not None else default, MIN_SE)
    asked = parsed[1] if parsed is not None else None
    party_refreshes = supports_timer(request) and asked != "uas"
    return LegSession(interval, we_refresh=not party_refreshes)


def as_uac(response: Response, requested: int) -> LegSession:
    """The timer of a leg on which the switch sent the request `response` answers.

    §7.2: the 2xx's Session-Expires names the refresher; `uac` is the switch. A 2xx
    without one comes from a party that knows no session timers: the switch refreshes
    anyway (a re-INVITE or UPDATE any party must answer), so a dead one is found."""
    parsed = _delta_and_refresher(response.get("session-expires"))
    if parsed is None:
        return LegSession(max(requested, MIN_SE), we_refresh=True)
    return LegSession(max(parsed[0], MIN_SE), we_refresh=parsed[1] != "uas")


def answer_headers(session: LegSession) -> list[tuple[str, str]]:
    """What the switch's 2xx on a leg says of that leg's timer (§9): the refresher is
    the UAC (the party) or the UAS (the switch); `Require: timer` when it is the party."""
    refresher = "uas" if session.we_refresh else "uac"
    headers = [("session-expires", f"{session.interval};refresher={refresher}")]
    if not session.we_refresh:
        headers.append(("require", TIMER))
    return headers


def request_headers(session: LegSession | None, default: int) -> list[tuple[str, str]]:
    """What a request the switch sends on a leg says: the interval it asks for, and
    `refresher=uac` when it keeps refreshing that leg itself (§7.1, §7.4)."""
    if session is None:
        return [("session-expires", str(default)), ("min-se", str(MIN_SE))]
    refresher = "uac" if session.we_refresh else "uas"
    return [("session-expires", f"{session.interval};refresher={refresher}")]
