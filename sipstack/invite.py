"""INVITE usage in the UA core: what RFC 3261 puts above the transactions.

- UAS: retransmit a 2xx to INVITE until its ACK arrives (§13.3.1.4);
- UAC: remember the ACK sent for a 2xx and resend it when that 2xx is
  retransmitted (§13.2.2.4), while the ICT sits in Accepted (RFC 6026, Timer M);
- CANCEL construction (§9.1).

Pure: `now` comes in, datagrams and events go out; one heap with lazy deletion.
"""

from __future__ import annotations

import heapq

from .events import AckTimedOut
from .message import Request
from .timers import TimerConfig
from .transport import Datagram

AckKey = tuple[str, int, str | None]  # Call-ID, CSeq number, To tag


class _Pending2xx:
    __slots__ = ("datagram", "tx_id", "call_id", "interval", "next_at", "give_up_at")

    def __init__(
        self,
        datagram: Datagram,
        tx_id: str,
        call_id: str,
        interval: float | None,
        now: float,
        give_up_at: float,
    ) -> None:
        self.datagram = datagram
        self.tx_id = tx_id
        self.call_id = call_id
        self.interval = interval
        self.next_at = now + interval if interval is not None else None
        self.give_up_at = give_up_at


class InviteUsage:
    """2xx retransmission (UAS) and the ACK-for-2xx cache (UAC)."""

    __slots__ = ("config", "_pending", "_acks", "_ack_expiry", "_heap", "_ack_heap", "_seq")

    def __init__(self, config: TimerConfig) -> None:
        self.config = config
        self._pending: dict[tuple[str, int], _Pending2xx] = {}
        self._acks: dict[AckKey, Datagram] = {}
        self._ack_expiry: dict[AckKey, float] = {}
        self._heap: list[tuple[float, int, tuple[str, int]]] = []  # 2xx retransmit/give-up
        self._ack_heap: list[tuple[float, int, AckKey]] = []  # cached ACK expiry
        self._seq = 0

    def __len__(self) -> int:
        return len(self._pending) + len(self._acks)

    # -- UAS: 2xx until ACK ----------------------------------------------------------
    def start_2xx(self, call_id: str, seq: int, datagram: Datagram, tx_id: str, now: float) -> None:
        """RFC 3261 §13.3.1.4: "the 2xx response is passed to the transport with an
        interval that starts at T1 seconds and doubles for each retransmission
        until it reaches T2 seconds" (over unreliable transports only: "If the
        server retransmits the 2xx response for 64*T1 seconds without receiving an
        ACK, the dialog is confirmed, but the session SHOULD be terminated.")"""
        interval = None if datagram.transport.reliable else self.config.t1
        pending = _Pending2xx(datagram, tx_id, call_id, interval, now, now + self.config.timeout)
        key = (call_id, seq)
        self._pending[key] = pending
        if pending.next_at is not None:
            self._push(pending.next_at, key)
        self._push(pending.give_up_at, key)

    def _push(self, when: float, key: tuple[str, int]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, key))

    def ack_received(self, call_id: str, seq: int) -> bool:
        """§13.3.1.4: "The 2xx response ... retransmissions cease when an ACK
        request for the response is received. This is independent of whatever
        transport protocols are used to send the response."  True if one was
        pending."""
        return self._pending.pop((call_id, seq), None) is not None

    def awaiting_ack(self, call_id: str, seq: int) -> bool:
        return (call_id, seq) in self._pending

    # -- UAC: ACK for 2xx ----------------------------------------------------------------
    def remember_ack(
        self, call_id: str, seq: int, to_tag: str | None, datagram: Datagram, now: float
    ) -> None:
        """§13.2.2.4: "The UAC core MUST generate an ACK request for each 2xx
        received from the transaction layer." -- a retransmitted 2xx gets the same
        ACK again, for as long as the ICT stays in Accepted (RFC 6026 Timer M)."""
        key = (call_id, seq, to_tag)
        when = now + self.config.timer_m()
        self._acks[key] = datagram
        self._ack_expiry[key] = when
        self._seq += 1
        heapq.heappush(self._ack_heap, (when, self._seq, key))

    def cached_ack(self, call_id: str, seq: int, to_tag: str | None) -> Datagram | None:
        return self._acks.get((call_id, seq, to_tag))

    # -- timers ----------------------------------------------------------------------
    def _live(self, when: float, key: tuple[str, int]) -> _Pending2xx | None:
        pending = self._pending.get(key)
        if pending is not None and (when == pending.next_at or when == pending.give_up_at):
            return pending
        return None

    def get_timer(self) -> float | None:
        heap = self._heap
        while heap and self._live(heap[0][0], heap[0][2]) is None:
            heapq.heappop(heap)
        acks = self._ack_heap
        while acks and self._ack_expiry.get(acks[0][2]) != acks[0][0]:
            heapq.heappop(acks)
        candidates = [h[0][0] for h in (heap, acks) if h]
        return min(candidates) if candidates else None

    def handle_timer(self, now: float) -> tuple[list[Datagram], list[AckTimedOut]]:
        """Retransmit due 2xx responses; report 2xx never ACKed; expire cached ACKs."""
        sent: list[Datagram] = []
        timed_out: list[AckTimedOut] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            pending = self._live(when, key)
            if pending is None:
                continue
            if when == pending.give_up_at:
                del self._pending[key]
                timed_out.append(AckTimedOut(pending.tx_id, pending.call_id))
                continue
            sent.append(pending.datagram)
            interval = self.config.double_capped(pending.interval or self.config.t1)
            pending.interval = interval
            pending.next_at = when + interval
            if pending.next_at < pending.give_up_at:
                self._push(pending.next_at, key)
        acks = self._ack_heap
        while acks and acks[0][0] <= now:
            when, _, ack_key = heapq.heappop(acks)
            if self._ack_expiry.get(ack_key) == when:
                del self._acks[ack_key]
                del self._ack_expiry[ack_key]
        return sent, timed_out


def build_cancel(invite: Request, reason: str | None = None) -> Request:
    """A CANCEL for `invite` (RFC 3261 §9.1).

    "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
    fields in the CANCEL request MUST be identical to those in the request being
    cancelled, including tags. A CANCEL constructed by a client MUST have only a
    single Via header field value matching the top Via value in the request being
    cancelled. ... the method parameter MUST have a value of "CANCEL"."  "If the
    request being cancelled contains a Route header field, the CANCEL request MUST
    include that Route header field's values."  RFC 3326 adds the Reason header.
    """
    headers: list[tuple[str, str]] = [("via", str(invite.top_via))]
    for name, value in invite.headers:
        if name in ("to", "from", "call-id", "route", "max-forwards"):
            headers.append((name, value))
    headers.append(("cseq", f"{invite.cseq.seq} CANCEL"))
    if reason is not None:
        headers.append(("reason", reason))
    return Request("CANCEL", invite.uri, headers)
