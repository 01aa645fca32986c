"""UDP and TCP transports on the running (uv)loop.

Incoming bytes go to one `on_message(data, source, transport)` callback, a whole
message at a time (TCP is framed by Content-Length with StreamFramer); outgoing
`Datagram`s are written by `send()`. TCP connections are kept in a table keyed by
the peer's address, so a request to a phone that registered over TCP goes down
the connection it opened (RFC 3261 §18.2.2, RFC 5626 §5); a connection is opened
only when there is none. A peer that sends an oversized or endless message is
disconnected, never buffered without bound.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Collection
from typing import cast

import structlog

from ..errors import ParseError
from ..framing import StreamFramer
from ..transport import Address, Datagram, Transport

MessageCallback = Callable[[bytes, Address, Transport], None]
FailureCallback = Callable[[Address, Transport], None]
# The peers whose TCP connections must stay open however idle (registered phones: a
# request to them can only go down the connection they opened, RFC 5626 §5).
InUseCallback = Callable[[], Collection[Address]]

log = structlog.get_logger("sipstack.transport")

# An idle TCP connection is closed after this long without a byte either way (phones
# refresh registrations well within it; RFC 5626 keep-alives count as traffic). RFC 3261
# §18: "It is RECOMMENDED that connections be kept open for some implementation-defined
# duration after the last message was sent or received over that connection. This
# duration SHOULD at least equal the longest amount of time the element would need in
# order to bring a transaction from instantiation to the terminated state." (64*T1 = 32 s
# is far below this.) A peer with a live registration over the connection keeps it open:
# requests to it can only go down the connection it opened. The check runs every quarter
# of the timeout, so an idle connection is closed within 1.25 times it.
TCP_IDLE_TIMEOUT = 3600.0


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_message: MessageCallback) -> None:
        self._on_message = on_message

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data in (b"\r\n\r\n", b"\r\n"):
            return  # RFC 5626 §4.4.1 style keep-alive; nothing to do over UDP
        self._on_message(data, (addr[0], addr[1]), Transport.UDP)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: the transaction timers handle the loss.
        log.debug("udp.error", error=str(exc))


class _TcpConnection(asyncio.Protocol):
    def __init__(self, owner: TransportSet) -> None:
        self._owner = owner
        self._framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)
        self.addresses: set[Address] = set()  # every key of the table it is under
        self.last_active = 0.0  # loop.time() of the last byte read or written

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass, but has its methods
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1]))
        self._owner._index(self.peer, self)
        self.touch()

    def touch(self) -> None:
        self.last_active = asyncio.get_running_loop().time()

    def write(self, data: bytes) -> None:
        """Write on the connection; a write the transport refuses raises ConnectionError
        (the caller's send failure path), one that fails later ends in connection_lost."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionError(f"TCP connection to {self.peer[0]}:{self.peer[1]} is closed")
        try:
            transport.write(data)
        except (OSError, RuntimeError) as exc:  # uvloop: RuntimeError on a closed handle
            raise ConnectionError(f"TCP write to {self.peer[0]}:{self.peer[1]}: {exc}") from exc
        self.touch()

    def data_received(self, data: bytes) -> None:
        self.touch()
        try:
            messages = self._framer.feed(data)
        except ParseError as exc:
            log.warning(
                "tcp.framing_error", peer=f"{self.peer[0]}:{self.peer[1]}", error=exc.reason
            )
            if self.transport is not None:
                self.transport.close()
            return
        if self._framer.pongs_due() and self.transport is not None:
            # RFC 5626 §4.4.1: answer a CRLFCRLF ping with a CRLF pong
            self.transport.write(b"\r\n")
        for message in messages:
            self._owner._on_message(message, self.peer, Transport.TCP)

    def connection_lost(self, exc: Exception | None) -> None:
        gone = self._owner._unindex(self)
        if exc is None:
            return  # closed by us or by the peer: nothing was lost in transit
        # RFC 3261 §18.4: "If the transport user asks for a request to be sent over a
        # reliable transport, and the result is a connection failure, the transport
        # layer SHOULD inform the transport user of a failure in sending." §17.1.4: "the
        # client transaction SHOULD inform the TU that a transport failure has
        # occurred". A reset or a failed write is one: every transaction waiting on this
        # peer learns of it, as after a failed connect.
        log.warning("tcp.connection_failed", peer=f"{self.peer[0]}:{self.peer[1]}", error=str(exc))
        for address in gone:
            self._owner._on_failure(address, Transport.TCP)


# A burst of requests must wait in the kernel, not be dropped: the default UDP receive
# buffer (about 200 KiB) overflows in well under a second of load at a few hundred
# calls per second. SO_RCVBUFFORCE passes net.core.rmem_max when we may (root).
UDP_RECEIVE_BUFFER = 8 * 1024 * 1024


def _grow_receive_buffer(sock: socket.socket | None) -> None:
    if sock is None:
        return
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, UDP_RECEIVE_BUFFER)
            return
        except OSError:
            continue


class TransportSet:
    """Every listening socket of the switch plus its TCP connection table."""

    def __init__(
        self,
        on_message: MessageCallback,
        on_failure: FailureCallback,
        *,
        idle_timeout: float = TCP_IDLE_TIMEOUT,
        in_use: InUseCallback | None = None,
    ) -> None:
        self._on_message = on_message
        self._on_failure = on_failure
        self._udp: asyncio.DatagramTransport | None = None
        self._servers: list[asyncio.Server] = []
        self._connections: dict[Address, _TcpConnection] = {}
        self._connecting: dict[Address, list[bytes]] = {}
        self.idle_timeout = idle_timeout
        self._in_use = in_use
        self._sweeper: asyncio.TimerHandle | None = None

    # -- the connection table ---------------------------------------------------------
    def _index(self, address: Address, conn: _TcpConnection) -> None:
        self._connections[address] = conn
        conn.addresses.add(address)
        if self._sweeper is None:
            self._schedule_sweep()

    def _unindex(self, conn: _TcpConnection) -> list[Address]:
        """Take `conn` out of the table; the addresses it was still reached by."""
        gone = [a for a in conn.addresses if self._connections.get(a) is conn]
        for address in gone:
            del self._connections[address]
        conn.addresses.clear()
        return gone

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(self.idle_timeout / 4, self._sweep)

    def _sweep(self) -> None:
        """Close every connection idle for `idle_timeout` (no byte either way), except
        those of peers `in_use` names (registered phones)."""
        self._sweeper = None
        now = asyncio.get_running_loop().time()
        idle = {
            id(c): c for c in self._connections.values() if now - c.last_active >= self.idle_timeout
        }
        if idle and self._in_use is not None:
            keep = set(self._in_use())
            idle = {k: c for k, c in idle.items() if not (c.addresses & keep or c.peer in keep)}
        for conn in idle.values():
            log.info(
                "tcp.idle_closed",
                peer=f"{conn.peer[0]}:{conn.peer[1]}",
                idle=round(now - conn.last_active, 1),
            )
            self._unindex(conn)
            if conn.transport is not None:
                conn.transport.close()
        if self._connections:
            self._schedule_sweep()

    async def listen(self, transport: Transport, host: str, port: int) -> Address:
        loop = asyncio.get_running_loop()
        if transport is Transport.UDP:
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self._on_message), local_addr=(host, port)
            )
            self._udp = udp
            _grow_receive_buffer(udp.get_extra_info("socket"))
            sock = udp.get_extra_info("sockname")
            return (str(sock[0]), int(sock[1]))
        server = await loop.create_server(
            lambda: _TcpConnection(self), host, port, reuse_address=True
        )
        self._servers.append(server)
        sock = server.sockets[0].getsockname()
        return (str(sock[0]), int(sock[1]))

    def send(self, datagram: Datagram) -> None:
        if datagram.transport is Transport.UDP:
            if self._udp is not None:
                self._udp.sendto(datagram.data, datagram.destination)
            return
        conn = self._connections.get(datagram.destination)
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.write(datagram.data)  # ConnectionError: the caller fails the destination
            return
        queued = self._connecting.get(datagram.destination)
        if queued is not None:
            queued.append(datagram.data)
            return
        self._connecting[datagram.destination] = [datagram.data]
        asyncio.get_running_loop().create_task(self._connect(datagram.destination))

    async def _connect(self, destination: Address) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _TcpConnection(self), *destination), 10.0
            )
        except (TimeoutError, OSError) as exc:
            self._connecting.pop(destination, None)
            log.warning(
                "tcp.connect_failed", peer=f"{destination[0]}:{destination[1]}", error=str(exc)
            )
            self._on_failure(destination, Transport.TCP)
            return
        # Index by the address we dialled too (getpeername may differ in form)
        self._index(destination, conn)
        try:
            for data in self._connecting.pop(destination, []):
                conn.write(data)
        except ConnectionError as exc:
            log.warning(
                "tcp.send_failed", peer=f"{destination[0]}:{destination[1]}", error=str(exc)
            )
            self._on_failure(destination, Transport.TCP)

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._udp is not None:
            self._udp.close()
        for server in self._servers:
            server.close()
        for conn in list(self._connections.values()):
            if conn.transport is not None:
                conn.transport.close()
