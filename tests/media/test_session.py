"""MediaSession over real UDP sockets on 127.0.0.1.

Requirements covered: a 440 Hz PCMU tone sent with reordered, dropped and duplicated
packets is stored as a WAV of the right duration (within 100 ms) whose dominant frequency
is 440 Hz; silence stops a recording and is trimmed; playback arrives paced at 20 ms with
consecutive sequence numbers and timestamps; replies go where the phone's packets come
from (symmetric RTP); DTMF reaches on_dtmf once per press; the port range is enforced;
closing the server finalises recordings.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from switch.media import MediaServer, MediaUnavailable, SdpError
from switch.media.g711 import PCMU
from switch.media.prompts import silence, tone
from switch.media.rtp import build_rtp, parse_rtp
from switch.media.wav import read_wav

pytestmark = pytest.mark.integration
LOW, HIGH = 41000, 41200


def offer_for(port: int) -> bytes:
    return (
        b"v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        + f"m=audio {port} RTP/AVP 0 101\r\n".encode()
        + b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )


def phone() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def answer_port(sdp: bytes) -> int:
    line = next(ln for ln in sdp.decode().splitlines() if ln.startswith("m=audio"))
    return int(line.split()[1])


def packets_of(pcm: bytes, seq0: int = 100, ts0: int = 5000) -> list[bytes]:
    frames = [pcm[i : i + 320] for i in range(0, len(pcm), 320)]
    return [
        build_rtp(0, seq0 + i, ts0 + 160 * i, 0x1234, PCMU.encode(f), i == 0)
        for i, f in enumerate(frames)
    ]


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def dominant_hz(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / 8000)[int(np.argmax(spectrum))])


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())  # type: ignore[arg-type]


def test_record_tone_with_loss_reorder_duplicates(tmp_path: Path) -> None:
    async def main() -> None:
        server = MediaServer("127.0.0.1", LOW, HIGH)
        ph = phone()
        session, answer = await server.open("c1", offer_for(ph.getsockname()[1]))
        dest = ("127.0.0.1", answer_port(answer))
        stops: list[float] = []
        session.record(tmp_path / "m.wav", max_seconds=30, silence_seconds=5, on_stop=stops.append)
        pkts = packets_of(tone(440, 2.0, 0.5))  # 100 packets
        order = list(range(100))
        for a in (10, 30, 50, 70):
            order[a], order[a + 1] = order[a + 1], order[a]  # reordered pairs
        order[80:83] = [82, 80, 81]
        for drop in (20, 40, 41, 60):
            order.remove(drop)  # lost
        order[90:90] = [89, 89]  # duplicated
        for n, i in enumerate(order):
            ph.sendto(pkts[i], dest)
            if n % 10 == 9:
                await asyncio.sleep(0.005)  # do not overrun the socket buffer
        await until(lambda: session.packets_received == len(order))
        session.close()
        assert len(stops) == 1
        pcm = read_wav(tmp_path / "m.wav")
        assert abs(len(pcm) / 16000 - 2.0) <= 0.1
        assert abs(stops[0] - 2.0) <= 0.1
        assert abs(dominant_hz(pcm) - 440) < 5
        assert session.packets_written == 96
        ph.close()

    run(main)


def test_silence_stops_and_is_trimmed(tmp_path: Path) -> None:
    async def main() -> None:
        server = MediaServer("127.0.0.1", LOW, HIGH)
        ph = phone()
        session, answer = await server.open("c2", offer_for(ph.getsockname()[1]))
        dest = ("127.0.0.1", answer_port(answer))
        stops: list[float] = []
        session.record(
            tmp_path / "s.wav", max_seconds=30, silence_seconds=1.0, on_stop=stops.append
        )
        for n, pkt in enumerate(packets_of(tone(440, 1.0, 0.5) + silence(2.0))):
            ph.sendto(pkt, dest)
            if n % 10 == 9:
                await asyncio.sleep(0.005)
        await until(lambda: bool(stops))
        assert stops[0] == pytest.approx(1.3, abs=0.05)  # 1 s of tone + 0.3 s tail
        session.close()
        assert len(stops) == 1
        ph.close()

    run(main)


def test_max_length(tmp_path: Path) -> None:
    async def main() -> None:
        server = MediaServer("127.0.0.1", LOW, HIGH)
        ph = phone()
        session, answer = await server.open("c3", offer_for(ph.getsockname()[1]))
        stops: list[float] = []
        session.record(tmp_path / "x.wav", max_seconds=0.5, silence_seconds=0, on_stop=stops.append)
        for pkt in packets_of(tone(440, 1.0)):
            ph.sendto(pkt, ("127.0.0.1", answer_port(answer)))
        await until(lambda: bool(stops))
        assert stops == [0.5]
        session.close()
        ph.close()

    run(main)


def test_playback_is_paced_and_symmetric() -> None:
    async def main() -> None:
        server = MediaServer("127.0.0.1", LOW, HIGH)
        sdp_sock, real = phone(), phone()  # the SDP names one socket, packets come from another
        session, answer = await server.open("c4", offer_for(sdp_sock.getsockname()[1]))
        real.sendto(packets_of(silence(0.02))[0], ("127.0.0.1", answer_port(answer)))
        await until(lambda: session.packets_received == 1)
        done: list[float] = []
        loop = asyncio.get_running_loop()
        session.play(tone(440, 0.5), then=lambda: done.append(loop.time()))
        arrivals: list[tuple[float, bytes]] = []
        while len(arrivals) < 25:
            data = await loop.sock_recv(real, 2048)
            arrivals.append((loop.time(), data))
        await until(lambda: bool(done))
        pkts = [parse_rtp(d) for _, d in arrivals]
        assert [p.sequence - pkts[0].sequence for p in pkts] == list(range(25))
        assert [p.timestamp - pkts[0].timestamp for p in pkts] == [160 * i for i in range(25)]
        assert pkts[0].marker and not any(p.marker for p in pkts[1:])
        assert len({p.ssrc for p in pkts}) == 1
        span = arrivals[-1][0] - arrivals[0][0]
        assert 0.4 <= span <= 0.7  # 24 intervals of 20 ms, paced, not a burst
        with pytest.raises(BlockingIOError):
            sdp_sock.recv(2048)  # nothing went to the SDP address
        session.close()
        session.close()
        sdp_sock.close()
        real.close()

    run(main)


def test_dtmf_callback() -> None:
    async def main() -> None:
        server = MediaServer("127.0.0.1", LOW, HIGH)
        ph = phone()
        session, answer = await server.open("c5", offer_for(ph.getsockname()[1]))
        digits: list[str] = []
        session.on_dtmf = digits.append
        dest = ("127.0.0.1", answer_port(answer))
        seq = 1
        for event, ts in ((7, 8000), (11, 16000)):
            for dur, end in ((160, False), (320, False), (480, True), (480, True), (480, True)):
                payload = bytes([event, 0x80 if end else 0]) + struct.pack("!H", dur)
                ph.sendto(build_rtp(101, seq, ts, 77, payload, dur == 160), dest)
                seq += 1
        await until(lambda: len(digits) == 2 and session.packets_received == 10)
        assert digits == ["7", "#"]
        session.close()
        ph.close()

    run(main)


def test_port_range_and_server_close(tmp_path: Path) -> None:
    async def main() -> None:
        server = MediaServer("127.0.0.1", 41300, 41303)  # two even ports
        stops: list[float] = []
        a, _ = await server.open("a", offer_for(9))
        b, _ = await server.open("b", None)
        with pytest.raises(MediaUnavailable):
            await server.open("c", offer_for(9))
        with pytest.raises(SdpError):
            await server.open("d", b"not sdp")
        a.record(tmp_path / "a.wav", max_seconds=5, silence_seconds=5, on_stop=stops.append)
        server.close()  # SIGTERM path: the recording is finalised
        assert stops == [0.0] and (tmp_path / "a.wav").exists()
        await asyncio.sleep(0.01)  # transports close on the next loop turn
        c, _ = await server.open("c", offer_for(9))
        assert c.local_port in (41300, 41302)
        c.close()
        del b

    run(main)
