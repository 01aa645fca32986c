"""The relay daemon (switch/shell/relayd.py) over its ng socket, driven by the switch's own
ng client: offer and answer rewritten to the relay's ports, NATed parties heard, query
reports both parties, delete frees the ports."""

from __future__ import annotations

import asyncio
import re

import pytest

from switch.media.port_pool import PortPool
from switch.shell.relay_sockets import EmbeddedRelay
from switch.shell.relayd import RelayDaemon
from switch.shell.rtpengine import NgClient, RtpengineError
from tests.support.rtp_phones import exchange, phone_socket

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"


def _sdp(address: str, port: int) -> str:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )


def _port(sdp: object) -> int:
    found = re.search(r"^m=audio (\d+) ", str(sdp), re.M)
    assert found, sdp
    return int(found.group(1))


def test_relay_daemon_relays_answers_queries_and_deletes() -> None:
    phone_a, phone_b = phone_socket(), phone_socket()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        relay = EmbeddedRelay(HOST, PortPool(34400, 34499))
        transport, _ = await loop.create_datagram_endpoint(
            lambda: RelayDaemon(relay), local_addr=(HOST, 0)
        )
        client = NgClient(transport.get_extra_info("sockname")[:2])
        await client.start()
        try:
            assert await client.ping()
            common = {"call-id": "d1", "received-from": ["IP4", HOST]}
            offer = await client.command(
                "offer", {**common, "from-tag": "a", "sdp": _sdp("127.0.0.77", 40000)}
            )
            answer = await client.command(
                "answer",
                {**common, "from-tag": "a", "to-tag": "b", "sdp": _sdp("127.0.0.78", 40002)},
            )
            to_b, to_a = (HOST, _port(offer["sdp"])), (HOST, _port(answer["sdp"]))
            assert "telephone-event/8000" in str(offer["sdp"])
            heard_a, heard_b = await exchange(phone_a, to_a, phone_b, to_b)
            assert heard_b == [b"from-a-%d" % i for i in range(3, 10)]
            assert heard_a == [b"from-b-%d" % i for i in range(3, 10)]
            query = await client.command("query", {"call-id": "d1"})
            tags = query["tags"]
            assert isinstance(tags, dict) and set(tags) == {"a", "b"}
            assert (await client.command("delete", {"call-id": "d1"}))["result"] == "ok"
            assert relay.pool.in_use == 0
            with pytest.raises(RtpengineError, match="Unknown call-id"):
                await client.command("query", {"call-id": "d1"})
        finally:
            client.close()
            transport.close()
            relay.close_all()

    try:
        asyncio.run(run())
    finally:
        phone_a.close()
        phone_b.close()
