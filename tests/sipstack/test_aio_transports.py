"""The asyncio/uvloop shell transports over real loopback sockets (127.0.0.1 only).

- a TCP connection the peer resets fails the peer's transactions (RFC 3261 §18.4,
  §17.1.4), as a failed connect does; a clean close or an idle close does not;
- a TCP connection idle for TCP_IDLE_TIMEOUT (no byte either way) is closed; traffic or a
  peer named in use (a registered phone) keeps it open.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvloop

from sipstack.aio.transports import TCP_IDLE_TIMEOUT, TransportSet
from sipstack.transport import Address, Datagram, Transport

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    factory = LOOPS[request.param]

    def runner(main: Callable[[], Awaitable[Any]]) -> Any:
        loop = factory()
        try:
            return loop.run_until_complete(asyncio.wait_for(main(), 10.0))
        finally:
            loop.close()

    return runner


class Shell:
    """A TransportSet listening on TCP 127.0.0.1, recording what it reports."""

    def __init__(self, idle_timeout: float | None = None) -> None:
        self.received: list[tuple[bytes, Address]] = []
        self.failed: list[tuple[Address, Transport]] = []
        self.in_use: set[Address] = set()
        idle: dict[str, Any] = {}
        if idle_timeout is not None:
            idle = {"idle_timeout": idle_timeout, "in_use": lambda: self.in_use}
        self.transports = TransportSet(
            lambda data, source, transport: self.received.append((data, source)),
            lambda destination, transport: self.failed.append((destination, transport)),
            **idle,
        )
        self.address: Address = ("", 0)

    async def listen(self) -> None:
        self.address = await self.transports.listen(Transport.TCP, "127.0.0.1", 0)

    async def client(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Address]:
        """A peer connected to us, once the switch side has it in its table."""
        reader, writer = await asyncio.open_connection(*self.address)
        host, port = writer.get_extra_info("sockname")[:2]
        peer = (str(host), int(port))
        for _ in range(100):
            if peer in self.transports._connections:
                break
            await asyncio.sleep(0.01)
        return reader, writer, peer


OPTIONS = (
    b"OPTIONS sip:s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKx\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as a crashed or unplugged phone's stack does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def settle(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)


# -- RFC 3261 §18.4 / §17.1.4: a failed TCP connection is a transport error ------------


def test_connection_reset_by_the_peer_reports_a_transport_failure(run: Any) -> None:
    async def main() -> None:
        shell = Shell()
        await shell.listen()
        _, writer, peer = await shell.client()
        shell.transports.send(Datagram(OPTIONS, peer, Transport.TCP))  # a request waits
        reset(writer)
        await settle(lambda: bool(shell.failed))
        assert shell.failed == [(peer, Transport.TCP)]
        assert peer not in shell.transports._connections
        shell.transports.close()

    run(main)


def test_write_to_a_peer_that_reset_reports_a_transport_failure(run: Any) -> None:
    async def main() -> None:
        shell = Shell()
        await shell.listen()
        _, writer, peer = await shell.client()
        reset(writer)
        # the switch writes before (or while) it reads the reset: the write fails
        for _ in range(20):
            try:
                shell.transports.send(Datagram(OPTIONS * 50, peer, Transport.TCP))
            except ConnectionError:
                shell.failed.append((peer, Transport.TCP))  # the pump's send-failure path
                break
            await asyncio.sleep(0.01)
        await settle(lambda: bool(shell.failed))
        assert shell.failed and set(shell.failed) == {(peer, Transport.TCP)}
        shell.transports.close()

    run(main)


def test_clean_close_by_the_peer_is_no_transport_failure(run: Any) -> None:
    async def main() -> None:
        shell = Shell()
        await shell.listen()
        _, writer, peer = await shell.client()
        writer.close()
        await settle(lambda: peer not in shell.transports._connections)
        await asyncio.sleep(0.05)
        assert peer not in shell.transports._connections
        assert shell.failed == []
        shell.transports.close()

    run(main)


# -- TCP_IDLE_TIMEOUT ---------------------------------------------------------------------


def test_idle_connection_is_closed_after_the_idle_timeout(run: Any) -> None:
    async def main() -> None:
        shell = Shell(idle_timeout=0.2)
        await shell.listen()
        reader, writer, peer = await shell.client()
        await asyncio.sleep(0.1)
        assert peer in shell.transports._connections, "closed before its time"
        assert await asyncio.wait_for(reader.read(), 1.0) == b"", "still open"
        assert peer not in shell.transports._connections
        assert shell.failed == []  # closing an idle connection fails nothing
        writer.close()
        shell.transports.close()

    run(main)


def test_traffic_keeps_a_connection_open(run: Any) -> None:
    async def main() -> None:
        shell = Shell(idle_timeout=0.2)
        await shell.listen()
        reader, writer, peer = await shell.client()
        for _ in range(10):  # 0.5 s of RFC 5626 keep-alives, each answered with a pong
            writer.write(b"\r\n\r\n")
            await asyncio.sleep(0.05)
        assert peer in shell.transports._connections
        assert not reader.at_eof()
        writer.close()
        shell.transports.close()

    run(main)


def test_connection_of_a_registered_phone_is_not_closed_as_idle(run: Any) -> None:
    async def main() -> None:
        shell = Shell(idle_timeout=0.1)
        await shell.listen()
        reader, writer, peer = await shell.client()
        shell.in_use.add(peer)
        await asyncio.sleep(0.4)
        assert peer in shell.transports._connections
        shell.in_use.clear()  # the binding expired: now it goes
        assert await asyncio.wait_for(reader.read(), 1.0) == b""
        writer.close()
        shell.transports.close()

    run(main)


def test_the_default_idle_timeout_is_an_hour() -> None:
    assert TransportSet(lambda *a: None, lambda *a: None).idle_timeout == TCP_IDLE_TIMEOUT == 3600.0
