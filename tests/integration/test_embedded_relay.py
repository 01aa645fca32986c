"""The embedded relay's sockets on loopback: NATed parties hear each other, a stranger
is not relayed, and ports come back after every call.

Each party's SDP names an address it is not at (127.0.0.77 / .78, nothing listens
there) while it really uses a socket on 127.0.0.1: the relay must learn the real
address from the packets.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from switch.media.port_pool import PortPool, PortsExhausted
from switch.media.relay import Side
from switch.shell.relay_sockets import EmbeddedRelay
from tests.support.rtp_phones import drain, exchange, phone_socket, rtp_packet

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"


def _free_range(size: int) -> tuple[int, int]:
    # an even-aligned block below the ephemeral range, checked free now
    for low in range(21000, 32000, 400):
        try:
            socks = []
            for port in range(low, low + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((HOST, port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return low, low + size - 1
    raise RuntimeError("no free port block")


def test_nated_parties_hear_each_other_and_a_stranger_is_not_relayed() -> None:
    phone_a, phone_b, stranger = phone_socket(), phone_socket(), phone_socket("127.0.0.5")

    async def call() -> None:
        relay = EmbeddedRelay(HOST, PortPool(*_free_range(40)))
        relayed = relay.open("relay-1")
        relayed.described(Side.CALLER, ("127.0.0.77", 40000))
        relayed.described(Side.CALLEE, ("127.0.0.78", 40002))
        to_a = (HOST, relayed.port_for(Side.CALLER))
        to_b = (HOST, relayed.port_for(Side.CALLEE))
        heard_a, heard_b = await exchange(phone_a, to_a, phone_b, to_b)
        assert heard_b == [b"from-a-%d" % i for i in range(3, 10)]
        assert heard_a == [b"from-b-%d" % i for i in range(3, 10)]
        # someone else aiming at the caller's port is not heard by the callee
        await asyncio.get_running_loop().sock_sendto(stranger, rtp_packet(99, b"intruder"), to_a)
        await asyncio.sleep(0.1)
        assert relayed.rtp.counts(Side.CALLER)["ignored"] == 1
        await drain(phone_b)
        relay.close("relay-1")
        assert relay.pool.in_use == 0

    try:
        asyncio.run(call())
    finally:
        for sock in (phone_a, phone_b, stranger):
            sock.close()


def test_ten_thousand_calls_leak_no_port() -> None:
    async def calls() -> None:
        pool = PortPool(*_free_range(20))  # 10 even ports: 5 calls at once
        relay = EmbeddedRelay(HOST, pool)
        for n in range(10_000):
            relay.open(f"c{n}")
            if n % 4 == 3:  # four calls up at a time, then all end
                for k in range(n - 3, n + 1):
                    relay.close(f"c{k}")
            assert pool.in_use <= 8
        assert pool.in_use == 0 and not relay.calls
        # the range is the limit: a sixth simultaneous call finds no port pair
        for n in range(5):
            relay.open(f"full{n}")
        with pytest.raises(PortsExhausted):
            relay.open("one-too-many")
        assert pool.in_use == 10
        relay.close_all()
        assert pool.in_use == 0

    asyncio.run(calls())
