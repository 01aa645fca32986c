"""How many simultaneous voicemail recordings one switch process sustains without gaps.

Run: .venv/bin/python benchmarks/bench_media.py [--streams 50,100,200,300] [--seconds 10]
     [--write]   (appends the table to benchmarks/RESULTS.md if it exists, else writes
                  benchmarks/MEDIA_RESULTS.md)

This process runs a MediaServer on uvloop with N sessions, each recording to a WAV in a
temporary folder through the full receive path (parse, symmetric-RTP latch, jitter buffer,
G.711 decode, silence detection, WAV write). A separate sender process plays N phones: one
UDP socket each, one 20 ms PCMU packet of a 440 Hz tone per phone every 20 ms (50 pps),
paced on an absolute schedule. A stream has a gap when a packet sent is not written to its
file (dropped by a full socket buffer while the loop was behind). CPU is this process's
CPU time over the sending window; the sender's CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from switch.media.g711 import PCMU  # noqa: E402
from switch.media.prompts import tone  # noqa: E402
from switch.media.rtp import build_rtp  # noqa: E402
from switch.media.session import MediaServer  # noqa: E402
from switch.media.wav import wav_duration  # noqa: E402

OFFER = (
    "v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


def sender(ports: list[int], seconds: float) -> None:
    """The phones: N sockets, 50 packets/s each, absolute-time pacing."""
    frames = [PCMU.encode(tone(440, 1.0, 0.5)[i : i + 320]) for i in range(0, 16000, 320)]
    socks = []
    for _ in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ticks = int(seconds * 50)
    start = time.monotonic() + 0.1
    late = 0
    for n in range(ticks):
        due = start + n * 0.02
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late += 1
        payload = frames[n % 50]
        for i, (s, port) in enumerate(zip(socks, ports, strict=True)):
            s.sendto(build_rtp(0, n, n * 160, i + 1, payload, n == 0), ("127.0.0.1", port))
    sys.stdout.write(f"{ticks} {late}\n")


async def run(streams: int, seconds: float, folder: Path) -> dict[str, float]:
    server = MediaServer("127.0.0.1", 30000, 30000 + 4 * streams + 100)
    sessions = []
    stopped: list[float] = []
    for i in range(streams):
        session, answer = await server.open(f"bench-{i}", OFFER.format(port=9).encode())
        session.record(
            folder / f"{i}.wav", max_seconds=3600, silence_seconds=0, on_stop=stopped.append
        )
        sessions.append(session)
    ports = ",".join(str(s.local_port) for s in sessions)
    cpu0, wall0 = time.process_time(), time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--sender",
        ports,
        "--seconds",
        str(seconds),
        stdout=subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    await asyncio.sleep(0.3)  # the last packets in flight
    ticks, sender_late = (int(x) for x in out.split())
    received = sum(s.packets_received for s in sessions)
    server.close()
    written = sum(s.packets_written for s in sessions)
    per_stream = [s.packets_written for s in sessions]
    durations = [wav_duration(folder / f"{i}.wav") for i in range(streams)]
    return {
        "streams": streams,
        "sent": ticks * streams,
        "received": received,
        "written": written,
        "streams_with_gaps": sum(1 for w in per_stream if w < ticks),
        "min_duration": min(durations),
        "expected_duration": ticks * 0.02,
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_pct": 100 * cpu / wall,
        "cpu_us_per_packet": 1e6 * cpu / max(received, 1),
        "achieved_pps": received / wall,
        "sender_late_ticks": sender_late,
    }


def table(rows: list[dict[str, float]], seconds: float) -> str:
    head = (
        "| streams | sent | received | written | streams with gaps | shortest WAV (s) "
        "| server CPU | CPU per packet | achieved pps |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['streams']:.0f} | {r['sent']:.0f} | {r['received']:.0f} | {r['written']:.0f} "
        f"| {r['streams_with_gaps']:.0f} | {r['min_duration']:.2f} of "
        f"{r['expected_duration']:.2f} | {r['cpu_pct']:.0f}% | {r['cpu_us_per_packet']:.0f} µs "
        f"| {r['achieved_pps']:.0f} |\n"
        for r in rows
    )
    return (
        f"\n## Media: simultaneous voicemail recordings (bench_media.py, {seconds:.0f} s)\n\n"
        f"One process, uvloop, full receive path to WAV; sender in a second process at "
        f"50 pps per stream; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}.\n\n"
        + head
        + body
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", default="50,100,200,300")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sender")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.sender:
        sender([int(p) for p in args.sender.split(",")], args.seconds)
        return
    rows = []
    for n in (int(x) for x in args.streams.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            row = uvloop.run(run(n, args.seconds, Path(tmp)))
        rows.append(row)
        sys.stdout.write(
            " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
            + "\n"
        )
        sys.stdout.flush()
    text = table(rows, args.seconds)
    sys.stdout.write(text)
    if args.write:
        here = Path(__file__).parent
        target = here / "RESULTS.md"
        if target.exists():
            with target.open("a") as f:
                f.write(text)
        else:
            (here / "MEDIA_RESULTS.md").write_text("# Benchmark results: media\n" + text)


if __name__ == "__main__":
    main()
