"""The RTP port range (`server.rtp_ports`), shared by the switch's own media sessions
and the embedded relay.

RFC 3550 §11: "RTP SHOULD use an even destination port number and the corresponding
RTCP stream SHOULD use the next higher (odd) destination port number". The pool hands
out even ports; the odd one above each is the holder's for RTCP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


class PortsExhausted(RuntimeError):
    """Every even port of the range is in use (or taken by another process)."""


class PortPool:
    def __init__(self, port_low: int, port_high: int) -> None:
        if port_low > port_high or port_low < 1 or port_high > 65535:
            raise ValueError(f"bad RTP port range {port_low}-{port_high}")
        first = port_low + (port_low & 1)
        # only even ports whose RTCP companion is inside the range too
        self._ports = list(range(first, port_high, 2))
        if not self._ports:
            raise ValueError(f"no even port in {port_low}-{port_high}")
        self.high = port_high
        self._cursor = 0
        self._in_use: set[int] = set()

    @property
    def in_use(self) -> int:
        """How many ports are held now (for metrics and leak tests)."""
        return len(self._in_use)

    def _candidates(self) -> Iterator[int]:
        """Each free even port once, from the cursor on; the caller marks what it takes."""
        for _ in range(len(self._ports)):
            port = self._ports[self._cursor]
            # Round-robin, not lowest-free: a port just released may still receive the
            # last call's packets for a moment, which must not reach the next call.
            self._cursor = (self._cursor + 1) % len(self._ports)
            if port not in self._in_use:
                yield port

    def _exhausted(self) -> PortsExhausted:
        return PortsExhausted(f"no free RTP port in {self._ports[0]}-{self._ports[-1]}")

    async def take(self, bind: Callable[[int], Awaitable[T]]) -> tuple[int, T]:
        """The next free even port and what `bind(port)` made of it; a port whose bind
        raises OSError (another process has it) is skipped."""
        for port in self._candidates():
            self._in_use.add(port)
            try:
                return port, await bind(port)
            except OSError:
                self._in_use.discard(port)
        raise self._exhausted()

    def take_now(self, bind: Callable[[int], T]) -> tuple[int, T]:
        """`take` for a `bind` that needs no waiting (a plain socket bind)."""
        for port in self._candidates():
            self._in_use.add(port)
            try:
                return port, bind(port)
            except OSError:
                self._in_use.discard(port)
        raise self._exhausted()

    def release(self, port: int) -> None:
        self._in_use.discard(port)
