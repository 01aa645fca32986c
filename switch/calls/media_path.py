"""The SDP of one call on its way between the two parties, through the media relay.

With a relay (`server.media.relay`), every SDP one party sends is handed to the relay,
which answers with the SDP the other party must get (its own address and ports); without
one the SDP passes as it is. The relay may answer later (rtpengine is a network round
trip away), so each message that carries SDP waits here for it, and so does every
message of the call queued behind it: the parties see the call's messages in the order
they happened (a 180 never overtakes the 183 before it, a BYE never overtakes the
re-INVITE it follows).

`carry` takes the SDP (or none) and what to do with the result; the result is the SDP to
send and 200, or no SDP and the status the relay failed with (488 for SDP it cannot carry,
503 for a relay that is down or full).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ..ports import MediaRelay, RelayParty, Silent

# carried(sdp, status, now): the SDP to send on (status 200), or b"" and the failure
Carried = Callable[[bytes, int, float], None]


class _Step:
    __slots__ = ("party", "sdp", "offer", "then")

    def __init__(self, party: RelayParty | None, sdp: bytes, offer: bool, then: Carried) -> None:
        self.party = party
        self.sdp = sdp
        self.offer = offer
        self.then = then


class MediaPath:
    """One call's SDP through the relay, in order; a pass-through when there is none."""

    __slots__ = ("_relay", "_call_id", "_queue", "_waiting", "anchored", "_released")

    def __init__(self, relay: MediaRelay | None, call_id: str) -> None:
        self._relay = relay
        self._call_id = call_id
        self._queue: deque[_Step] = deque()
        self._waiting = False  # the head of the queue is with the relay
        self.anchored = False  # the relay holds ports for this call
        self._released = False  # the call is over: nothing more goes to the relay

    @property
    def relayed(self) -> bool:
        return self._relay is not None

    def carry(
        self, party: RelayParty | None, sdp: bytes, offer: bool, then: Carried, now: float
    ) -> None:
        """Pass `party`'s `sdp` (b"": a message without SDP, kept in order) to the other
        party: `then(sdp_to_send, status, now)` runs when it may go."""
        if self._released:
            # a late message of an ended call (a 2xx retransmitted after BYE): passed as
            # it is, never given to the relay (which would open the call anew)
            then(sdp, 200, now)
            return
        if not self._queue and (self._relay is None or not sdp or party is None):
            then(sdp, 200, now)
            return
        self._queue.append(_Step(party, sdp, offer, then))
        if not self._waiting:
            self._next(now)

    def _next(self, now: float) -> None:
        while self._queue and not self._waiting:
            step = self._queue[0]
            if self._relay is None or not step.sdp or step.party is None:
                self._queue.popleft()
                step.then(step.sdp, 200, now)
                continue
            self._waiting = True
            self.anchored = True
            relay, party = self._relay, step.party
            relay.anchor(self._call_id, party, step.sdp, step.offer, self._anchored, now)

    def _anchored(self, sdp: bytes, status: int, now: float) -> None:
        if self._released:
            return  # the answer for a step already failed by `release`
        self._waiting = False
        if self._queue:
            step = self._queue.popleft()
            step.then(sdp if status == 200 else b"", status, now)
        self._next(now)

    def watch(self, silent: Silent) -> None:
        """The call is answered: the relay reports a party whose media stops."""
        if self._relay is not None and self.anchored:
            self._relay.watch(self._call_id, silent)

    def release(self, now: float) -> None:
        """The call is over: the relay frees its ports. What still waits for the relay
        fails with 503 (a request waiting to be relayed must still be answered,
        RFC 3261 §15.1.2); messages after it go as they are."""
        if self._released:
            return
        self._released = True
        waiting, self._queue = self._queue, deque()
        for step in waiting:
            step.then(b"", 503, now) if step.sdp else step.then(step.sdp, 200, now)
        if self._relay is not None and self.anchored:
            self.anchored = False
            self._relay.release(self._call_id)
