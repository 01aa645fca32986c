"""The embedded media relay's sockets: four per relayed call (RTP and RTCP for each party).

The forwarding decisions are `switch.media.relay.RelayedStream`'s; this module only binds
ports from the shared `PortPool`, feeds arriving datagrams to the stream and sends where
it says. Each party gets an even port for RTP and the odd one above it for RTCP (RFC 3550
§11); the SDP the switch sends a party names the relay's address and that party's port.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import structlog

from switch.media.port_pool import PortPool
from switch.media.relay import Address, RelayedStream, Side

log = structlog.get_logger("relay")


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
    """One relayed call's ports and streams."""

    def __init__(self, call_id: str, caller_ip: str, callee_ip: str) -> None:
        self.call_id = call_id
        self.rtp = RelayedStream(caller_ip, callee_ip)
        self.rtcp = RelayedStream(caller_ip, callee_ip)
        self.ports: dict[Side, int] = {}
        self._sockets: dict[tuple[Side, bool], _Socket] = {}

    def port_for(self, side: Side) -> int:
        """The relay's RTP port that `side` sends to (named in the SDP sent to it)."""
        return self.ports[side]

    def described(self, side: Side, sdp_address: Address | None) -> None:
        """`side` sent SDP naming `sdp_address` for its RTP (RTCP on the port above)."""
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

    def attach(self, side: Side, rtcp: bool, sock: _Socket) -> None:
        self._sockets[(side, rtcp)] = sock

    def close(self) -> None:
        for sock in self._sockets.values():
            if sock.transport is not None:
                sock.transport.close()
        self._sockets.clear()


def _now() -> float:
    return asyncio.get_running_loop().time()


class EmbeddedRelay:
    """Opens and closes relayed calls on `host`, ports from `pool`."""

    def __init__(self, host: str, pool: PortPool) -> None:
        self.host = host
        self.pool = pool
        self.calls: dict[str, RelayedCall] = {}

    async def open(self, call_id: str, caller_ip: str, callee_ip: str) -> RelayedCall:
        """Bind both parties' ports (raises PortsExhausted when the range is full)."""
        call = RelayedCall(call_id, caller_ip, callee_ip)
        try:
            for side in Side:
                call.ports[side] = await self._take_pair(call, side)
        except BaseException:
            self._release(call)
            raise
        self.calls[call_id] = call
        log.info("relay.opened", call_id=call_id, ports=[call.ports[s] for s in Side])
        return call

    async def _take_pair(self, call: RelayedCall, side: Side) -> int:
        async def bind(port: int) -> None:
            await self._bind_pair(call, side, port)

        port, _ = await self.pool.take(bind)
        return port

    async def _bind_pair(self, call: RelayedCall, side: Side, port: int) -> None:
        loop = asyncio.get_running_loop()
        _, rtp = await loop.create_datagram_endpoint(
            lambda: _Socket(call, side, False), local_addr=(self.host, port)
        )
        try:
            _, rtcp = await loop.create_datagram_endpoint(
                lambda: _Socket(call, side, True), local_addr=(self.host, port + 1)
            )
        except OSError:
            if rtp.transport is not None:
                rtp.transport.close()
            raise
        call.attach(side, False, rtp)
        call.attach(side, True, rtcp)

    def close(self, call_id: str) -> None:
        call = self.calls.pop(call_id, None)
        if call is not None:
            counts = {s.value: call.rtp.counts(s) for s in Side}
            self._release(call)
            log.info("relay.closed", call_id=call_id, **counts)

    def _release(self, call: RelayedCall) -> None:
        call.close()
        for port in call.ports.values():
            self.pool.release(port)

    def close_all(self) -> None:
        for call_id in list(self.calls):
            self.close(call_id)
