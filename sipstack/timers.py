"""Transaction timer durations (RFC 3261 §17 Table 4, RFC 6026 §8).

| Timer | FSM  | Value                          |
|-------|------|--------------------------------|
| A     | ICT  | T1, doubling, no cap (UDP only) |
| B     | ICT  | 64*T1                          |
| D     | ICT  | >= 32 s UDP, 0 reliable         |
| E     | NICT | T1, doubling, capped T2 (UDP)  |
| F     | NICT | 64*T1                          |
| G     | IST  | T1, doubling, capped T2 (UDP)  |
| H     | IST  | 64*T1                          |
| I     | IST  | T4 UDP, 0 reliable             |
| J     | NIST | 64*T1 UDP, 0 reliable          |
| K     | NICT | T4 UDP, 0 reliable             |
| L     | IST  | 64*T1 (RFC 6026)               |
| M     | ICT  | 64*T1 (RFC 6026)               |

A retransmission timer of `None` means "not armed" (reliable transports); a
duration of 0 means "fires at once" (RFC 3261: "zero seconds for reliable
transports").
"""

from __future__ import annotations

import msgspec


class TimerConfig(msgspec.Struct, frozen=True):
    # RFC 3261 §17.1.1.1: "T1 is an estimate of the round-trip time (RTT), and it
    # defaults to 500 ms."  T2 = 4 s: "the maximum retransmit interval for
    # non-INVITE requests and INVITE responses"; T4 = 5 s: "maximum duration a
    # message will remain in the network".
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def timeout(self) -> float:
        """64*T1: Timers B, F, H, L, M and the 2xx/ACK give-up (§13.3.1.4)."""
        return 64 * self.t1

    def timer_a(self, reliable: bool) -> float | None:
        # §17.1.1.2: "If an unreliable transport is being used, the client
        # transaction MUST start timer A with a value of T1."
        return None if reliable else self.t1

    def timer_b(self) -> float:
        return self.timeout

    def timer_d(self, reliable: bool) -> float:
        # §17.1.1.2: "Timer D ... MUST be set to at least 32 seconds for unreliable
        # transports, and a value of zero seconds for reliable transports."
        return 0.0 if reliable else max(32.0, self.timeout)

    def timer_e(self, reliable: bool) -> float | None:
        return None if reliable else self.t1

    def timer_f(self) -> float:
        return self.timeout

    def timer_g(self, reliable: bool) -> float | None:
        return None if reliable else self.t1

    def timer_h(self) -> float:
        return self.timeout

    def timer_i(self, reliable: bool) -> float:
        return 0.0 if reliable else self.t4

    def timer_j(self, reliable: bool) -> float:
        return 0.0 if reliable else self.timeout

    def timer_k(self, reliable: bool) -> float:
        return 0.0 if reliable else self.t4

    def timer_l(self) -> float:
        return self.timeout

    def timer_m(self) -> float:
        return self.timeout

    def double(self, interval: float) -> float:
        """Timer A backoff: doubled without a cap (§17.1.1.2)."""
        return interval * 2

    def double_capped(self, interval: float) -> float:
        """Timers E and G and 2xx retransmission: doubled, capped at T2."""
        return min(interval * 2, self.t2)
