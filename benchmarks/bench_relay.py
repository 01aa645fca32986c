"""The embedded relay's data plane under load: N relayed calls, RTP both ways.

The relay (switch/shell/relay_sockets.py on uvloop) runs in this process; the phones run
in a child process on plain sockets, two per call, each sending one 172-octet PCMU packet
every `ptime` ms with its send time inside. The child counts what arrives and how late.
Reported: packets sent and received (lost = sent - received), p50/p99/max one-way delay
through the relay (loopback, so nearly all of it is the relay), and the relay process's
CPU. Only 127.0.0.1 is used.

    .venv/bin/python benchmarks/bench_relay.py --calls 300 --seconds 10 --ptime 20
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import selectors
import socket
import struct
import time
from multiprocessing.connection import Connection
from typing import cast

import uvloop

from switch.media.port_pool import PortPool
from switch.media.relay import Side
from switch.shell.relay_sockets import EmbeddedRelay

HOST = "127.0.0.1"
PAYLOAD = 160  # 20 ms of PCMU
SLICES = 20


def _phones(
    ports: list[tuple[int, int]] | int,
    seconds: float,
    ptime: float,
    spread: bool,
    out: Connection,
) -> None:
    """Child process: two sockets per call, paced sending, timestamped receiving. `ports`
    are the relay's (caller side, callee side) per call, or a number of calls whose
    phones send straight to each other (the baseline: the generator and the kernel)."""
    pairs = []
    sel = selectors.DefaultSelector()
    for relay_ports in ports if isinstance(ports, list) else [None] * ports:
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for sock in (a, b):
            sock.bind((HOST, 0))
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sel.register(sock, selectors.EVENT_READ)
        if relay_ports is None:
            to_a, to_b = b.getsockname(), a.getsockname()
        else:
            to_a, to_b = (HOST, relay_ports[0]), (HOST, relay_ports[1])
        pairs.append(((a, to_a), (b, to_b)))
    sent = received = 0
    delays: list[float] = []
    interval = ptime / 1000.0
    start = time.monotonic()
    next_send = start
    seq = 0
    filler = bytes(PAYLOAD - 8)
    # Real phones do not send in step: each ptime is cut into SLICES and each slice of the
    # calls sends in its own (one burst of every call at once measures the burst's queue)
    slices = [pairs[k::SLICES] for k in range(SLICES)] if spread else [pairs]
    slot = interval / len(slices)
    while True:
        now = time.monotonic()
        if now >= next_send:
            if now - start >= seconds:
                break
            stamp = struct.pack("!d", time.perf_counter())
            header = struct.pack("!BBHII", 0x80, 0, (seq // len(slices)) & 0xFFFF, seq, 0x1234)
            packet = header + stamp + filler
            for (a, to_a), (b, to_b) in slices[seq % len(slices)]:
                a.sendto(packet, to_a)
                b.sendto(packet, to_b)
                sent += 2
            seq += 1
            next_send += slot
        received += _read_ready(sel, max(0.0, next_send - time.monotonic()), delays)
    # let the last packets arrive
    drain_until = time.monotonic() + 0.5
    while time.monotonic() < drain_until:
        received += _read_ready(sel, 0.05, delays)
    delays.sort()
    out.send((sent, received, delays))


def _read_ready(sel: selectors.BaseSelector, timeout: float, delays: list[float]) -> int:
    """Read every packet waiting on the ready sockets; note each one's delay."""
    count = 0
    for key, _ in sel.select(timeout):
        sock = cast(socket.socket, key.fileobj)
        while True:
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                break
            count += 1
            (sent_at,) = struct.unpack_from("!d", data, 12)
            delays.append(time.perf_counter() - sent_at)
    return count


async def _run(calls: int, seconds: float, ptime: float, direct: bool, spread: bool) -> None:
    pool = PortPool(30000, 30000 + 4 * calls + 8)
    relay = EmbeddedRelay(HOST, pool)
    ports: list[tuple[int, int]] | int = calls if direct else []
    for n in range(0 if direct else calls):
        assert isinstance(ports, list)
        relayed = relay.open(f"bench-{n}")
        relayed.described(Side.CALLER, ("127.0.0.77", 40000))
        relayed.described(Side.CALLEE, ("127.0.0.78", 40002))
        ports.append((relayed.port_for(Side.CALLER), relayed.port_for(Side.CALLEE)))
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_phones, args=(ports, seconds, ptime, spread, child))
    cpu_before = time.process_time()
    wall_before = time.monotonic()
    proc.start()
    loop = asyncio.get_running_loop()
    while not parent.poll():
        await asyncio.sleep(0.1)
    sent, received, delays = await loop.run_in_executor(None, parent.recv)
    cpu = time.process_time() - cpu_before
    wall = time.monotonic() - wall_before
    proc.join()
    relay.close_all()
    # Each call's first caller packet goes to the callee's SDP address (nothing listens
    # there) because the callee has not sent yet: one "lost" packet per call is latching.
    pct = (lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000) if delays else None
    pps = sent / seconds
    print(
        f"{calls} calls, ptime {ptime:g} ms, {seconds:g} s: sent {sent:,} ({pps:,.0f} pkt/s, "
        f"{pps / 2:,.0f} each way), received {received:,}, lost {sent - received:,} "
        f"({(sent - received) / max(sent, 1):.3%})"
    )
    if pct is not None:
        print(
            f"one-way delay through the relay: p50 {pct(0.5):.3f} ms, "
            f"p99 {pct(0.99):.3f} ms, max {delays[-1] * 1000:.3f} ms"
        )
    if direct:
        print("(direct: no relay, the phones send to each other: the generator's own delay)")
    else:
        print(f"relay process CPU: {cpu / wall:.0%} of one core over {wall:.1f} s")


def main() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ptime", type=float, default=20.0)
    parser.add_argument("--direct", action="store_true", help="no relay: the baseline")
    parser.add_argument("--burst", action="store_true", help="every call sends at the same instant")
    args = parser.parse_args()
    uvloop.run(_run(args.calls, args.seconds, args.ptime, args.direct, not args.burst))


if __name__ == "__main__":
    main()
