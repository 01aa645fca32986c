"""The embedded media relay (`server.media.relay: embedded`): four sockets per relayed call.

It implements `ports.MediaRelay` for the call engine. What each party is told and where
each packet goes are decided by the pure `switch.media.anchor.AnchoredCall` and
`switch.media.relay.RelayedStream`; this module binds ports from the shared `PortPool`,
feeds arriving datagrams to the streams and sends where they say. Each party gets an even
port for RTP and the odd one above it for RTCP (RFC 3550 §11).

The sockets are bound at once (a bind is a system call, not a wait), so a call's SDP is
answered inside the pump that asked; the event loop starts reading them a moment later,
and what arrives meanwhile waits in the kernel.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable
from typing import Any, cast

import structlog

from switch.media.anchor import AnchoredCall, check_interval
from switch.media.port_pool import PortPool, PortsExhausted
from switch.media.relay import Address, Side
from switch.media.sdp import SdpError
from switch.ports import Anchored, RelayParty, Silent

log = structlog.get_logger("relay")

Pumped = Callable[[Callable[[float], None]], None]


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, call: RelayedCall, side: Side, rtcp: bool) -> None:
        self.call = call
        self.side = side
        self.rtcp = rtcp
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.call.forward(self.side, self.rtcp, data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # ICMP unreachable from a party that went away: the media timeout ends the call
        pass


class RelayedCall:
    """One relayed call: what each party is told (`anchored`) and its four sockets."""

    def __init__(self, call_id: str, anchored: AnchoredCall) -> None:
        self.call_id = call_id
        self.anchored = anchored
        self.rtp = anchored.rtp_stream
        self.rtcp = anchored.rtcp_stream
        self._sockets: dict[tuple[Side, bool], _Socket] = {}
        self._raw: list[socket.socket] = []
        self._tasks: list[asyncio.Task[Any]] = []

    def port_for(self, side: Side) -> int:
        """The relay's RTP port that `side` sends to (named in the SDP sent to it)."""
        return self.anchored.ports[side]

    def described(self, side: Side, sdp_address: Address | None) -> None:
        """`side`'s media is at `sdp_address` (RTCP on the port above), as its SDP would
        say: for tests and benchmarks that drive the sockets without SIP."""
        self.rtp.described(side, sdp_address)
        rtcp = (sdp_address[0], sdp_address[1] + 1) if sdp_address else None
        self.rtcp.described(side, rtcp)

    def forward(self, side: Side, rtcp: bool, data: bytes, source: Address) -> None:
        stream = self.rtcp if rtcp else self.rtp
        destination = stream.packet_from(side, source, data, _now())
        if destination is None:
            return
        # out of the other party's socket, so it sees the port it sends to (symmetric)
        out = self._sockets.get((side.other, rtcp))
        if out is not None and out.transport is not None:
            out.transport.sendto(data, destination)

    def serve(self, side: Side, rtcp: bool, sock: socket.socket) -> None:
        """Start reading a bound socket on the running loop."""
        self._raw.append(sock)
        protocol = _Socket(self, side, rtcp)
        self._sockets[(side, rtcp)] = protocol
        loop = asyncio.get_running_loop()
        self._tasks.append(
            loop.create_task(loop.create_datagram_endpoint(lambda: protocol, sock=sock))
        )

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for protocol in self._sockets.values():
            if protocol.transport is not None:
                protocol.transport.close()
        for sock in self._raw:
            sock.close()  # a socket the loop never took over
        self._sockets.clear()
        self._raw.clear()
        self._tasks.clear()


def _now() -> float:
    return asyncio.get_running_loop().time()


class EmbeddedRelay:
    """`ports.MediaRelay` on this host: ports from `pool` bound on `host`, named in SDP
    as `advertise` (the address phones reach us at). With `timeout` seconds and the
    shell's `pumped`, a watched call whose party falls silent is reported."""

    def __init__(
        self,
        host: str,
        pool: PortPool,
        advertise: str | None = None,
        *,
        timeout: float = 0.0,
        pumped: Pumped | None = None,
    ) -> None:
        self.host = host
        self.advertise = advertise or host
        self.pool = pool
        self.calls: dict[str, RelayedCall] = {}
        self.timeout = timeout
        self._pumped = pumped
        self._watched: dict[str, Silent] = {}
        self._checking: asyncio.TimerHandle | None = None

    # -- ports.MediaRelay --------------------------------------------------------------------
    def anchor(
        self,
        call_id: str,
        party: RelayParty,
        sdp: bytes,
        offer: bool,
        done: Anchored,
        now: float,
    ) -> None:
        call = self.calls.get(call_id)
        if call is None:
            try:
                call = self.open(call_id)
            except PortsExhausted as exc:
                log.error("relay.no_ports", call_id=call_id, error=str(exc))
                done(b"", 503, now)
                return
        try:
            body = call.anchored.described(party.side, sdp, party.signalling[0], _now())
        except SdpError as exc:
            log.warning("relay.bad_sdp", call_id=call_id, side=party.side.value, error=str(exc))
            done(b"", 488, now)
            return
        done(body, 200, now)

    def release(self, call_id: str) -> None:
        self.close(call_id)

    def watch(self, call_id: str, silent: Silent) -> None:
        if self.timeout <= 0 or self._pumped is None or call_id not in self.calls:
            return
        self._watched[call_id] = silent
        if self._checking is None:
            self._schedule_check()

    # -- the media timeout -----------------------------------------------------------------
    def _schedule_check(self) -> None:
        interval = check_interval(self.timeout)
        self._checking = asyncio.get_running_loop().call_later(interval, self._check)

    def _check(self) -> None:
        self._checking = None
        now = _now()
        for call_id, silent in list(self._watched.items()):
            call = self.calls.get(call_id)
            side = call.anchored.silent_side(now, self.timeout) if call is not None else None
            if call is None or side is not None:
                del self._watched[call_id]
            if side is not None:
                self._report(call_id, side, silent)
        if self._watched:
            self._schedule_check()

    def _report(self, call_id: str, side: Side, silent: Silent) -> None:
        assert self._pumped is not None
        log.info("relay.silent", call_id=call_id, side=side.value)
        self._pumped(lambda now: silent(side, now))

    # -- opening and closing -----------------------------------------------------------------
    def open(self, call_id: str) -> RelayedCall:
        """Bind both parties' ports (raises PortsExhausted when the range is full)."""
        bound: dict[Side, tuple[int, tuple[socket.socket, socket.socket]]] = {}
        try:
            for side in Side:
                bound[side] = self.pool.take_now(self._bind_pair)
        except BaseException:
            for port, pair in bound.values():
                self._free(port, pair)
            raise
        ports = {side: port for side, (port, _) in bound.items()}
        call = RelayedCall(call_id, AnchoredCall(self.advertise, ports, secrets.randbits(30)))
        for side, (_, (rtp, rtcp)) in bound.items():
            call.serve(side, False, rtp)
            call.serve(side, True, rtcp)
        self.calls[call_id] = call
        log.info("relay.opened", call_id=call_id, ports=[ports[s] for s in Side])
        return call

    def _bind_pair(self, port: int) -> tuple[socket.socket, socket.socket]:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        rtp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            rtp.setblocking(False)
            rtp.bind((self.host, port))
            rtcp = socket.socket(family, socket.SOCK_DGRAM)
        except OSError:
            rtp.close()
            raise
        try:
            rtcp.setblocking(False)
            rtcp.bind((self.host, port + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            raise
        return rtp, rtcp

    def _free(self, port: int, pair: tuple[socket.socket, socket.socket]) -> None:
        for sock in pair:
            sock.close()
        self.pool.release(port)

    def close(self, call_id: str) -> None:
        call = self.calls.pop(call_id, None)
        self._watched.pop(call_id, None)
        if call is None:
            return
        counts = {s.value: call.rtp.counts(s) for s in Side}
        call.close()
        for side in Side:
            self.pool.release(call.port_for(side))
        log.info("relay.closed", call_id=call_id, **counts)

    def close_all(self) -> None:
        for call_id in list(self.calls):
            self.close(call_id)
        if self._checking is not None:
            self._checking.cancel()
            self._checking = None
