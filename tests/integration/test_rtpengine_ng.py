"""The ng control client against a real rtpengine: the relay's carrier-scale backend.

Two "NATed" parties: each one's SDP names 127.0.0.77 / 127.0.0.78 where nothing
listens, while it really sends and receives RTP on a 127.0.0.1 socket. rtpengine
rewrites both SDPs to its own ports and latches on to where packets come from, so
audio flows both ways. Without a daemon the client gives up with RtpengineError.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from switch.shell.rtpengine import (
    NgClient,
    RtpengineError,
    decode_datagram,
    encode_command,
    parse_ng_address,
)
from tests.support.rtp_phones import exchange, phone_socket
from tests.support.rtpengine_daemon import RtpengineDaemon, rtpengine_daemon

pytestmark = pytest.mark.integration


@pytest.fixture
def rtpengine(tmp_path: Path) -> Iterator[RtpengineDaemon]:
    with rtpengine_daemon(tmp_path / "rtpengine") as daemon:
        yield daemon


def _sdp(address: str, port: int, session: int) -> str:
    return (
        f"v=0\r\no=- {session} 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )


def _media_of(sdp: str) -> tuple[str, int]:
    address = re.search(r"^c=IN IP4 (\S+)", sdp, re.M)
    port = re.search(r"^m=audio (\d+) ", sdp, re.M)
    assert address and port, sdp
    return address.group(1), int(port.group(1))


def test_ng_codec_round_trip() -> None:
    data = encode_command("c1", "offer", {"call-id": "x", "flags": ["trust-address"]})
    assert data.startswith(b"c1 d7:call-id1:x7:command5:offer")
    assert decode_datagram(b"c1 d6:result2:oke") == ("c1", {"result": "ok"})
    assert parse_ng_address("udp:127.0.0.1:2223") == ("127.0.0.1", 2223)
    with pytest.raises(ValueError, match="udp:HOST:PORT"):
        parse_ng_address("tcp:127.0.0.1:2223")


def test_nated_parties_hear_each_other_through_rtpengine(rtpengine: RtpengineDaemon) -> None:
    phone_a, phone_b = phone_socket(), phone_socket()
    asyncio.run(negotiate_and_keep(rtpengine, phone_a, phone_b))


async def negotiate_and_keep(
    rtpengine: RtpengineDaemon, phone_a: socket.socket, phone_b: socket.socket
) -> None:
    """Offer/answer, RTP both ways while the call lives, then delete."""
    client = NgClient(parse_ng_address(rtpengine.ng_address))
    await client.start()
    try:
        assert await client.ping()
        common = {"call-id": "ng-test-1", "from-tag": "tag-a"}
        offer = await client.command("offer", {**common, "sdp": _sdp("127.0.0.77", 40000, 1)})
        answer = await client.command(
            "answer", {**common, "to-tag": "tag-b", "sdp": _sdp("127.0.0.78", 40002, 2)}
        )
        to_b, to_a = str(offer["sdp"]), str(answer["sdp"])
        # what each party is told: rtpengine's address and one of its ports
        (host_b, port_b), (host_a, port_a) = _media_of(to_b), _media_of(to_a)
        assert host_a == host_b == "127.0.0.1"
        assert rtpengine.port_min <= port_a <= rtpengine.port_max
        assert rtpengine.port_min <= port_b <= rtpengine.port_max
        assert "telephone-event/8000" in to_b and "telephone-event/8000" in to_a
        heard_a, heard_b = await exchange(phone_a, (host_a, port_a), phone_b, (host_b, port_b))
        assert heard_b == [b"from-a-%d" % i for i in range(3, 10)]
        assert heard_a == [b"from-b-%d" % i for i in range(3, 10)]
        assert (await client.command("delete", common))["result"] == "ok"
        with pytest.raises(RtpengineError, match="refused 'query'"):
            await client.command("query", {"call-id": "ng-test-1"})
    finally:
        client.close()
        phone_a.close()
        phone_b.close()


def test_no_rtpengine_is_an_error_not_a_hang() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers
        address = silent.getsockname()

        async def ask() -> None:
            client = NgClient(address, timeout=0.1, attempts=2)
            await client.start()
            try:
                assert not await client.ping()
                with pytest.raises(RtpengineError, match="did not answer 'offer'"):
                    await client.command("offer", {"call-id": "x"})
            finally:
                client.close()

        asyncio.run(ask())
