"""Transaction-layer throughput between two Endpoints in memory (no sockets).

Run: .venv/bin/python benchmarks/bench_transactions.py [seconds-per-case]

Cases (each a full exchange through parse, matching, the FSMs and serialize):
- nict: OPTIONS -> 200 (NICT + NIST), then the timers run out (K, J);
- invite: INVITE -> 100 -> 180 -> 200 -> ACK (ICT + IST + 2xx/ACK usage), then
  the timers run out (L, M, ACK cache).
Prints completions/s per case; the switch needs about 1000 calls/s on one core,
and one call is at least one INVITE exchange and one BYE exchange.
"""

from __future__ import annotations

import sys
import time

from sipstack import Endpoint, IdSource, Request, Transport, make_response
from sipstack.events import Event, RequestReceived
from sipstack.uri import parse_uri

A = ("192.0.2.10", 5060)
B = ("192.0.2.20", 5060)
URI = parse_uri("sip:2001@192.0.2.20")


def _request(method: str, n: int, to_tag: str | None = None) -> Request:
    to = "<sip:2001@pbx.example.com>" + (f";tag={to_tag}" if to_tag else "")
    return Request(
        method,
        URI,
        [
            ("from", '"Alice" <sip:1001@pbx.example.com>;tag=1928301774'),
            ("to", to),
            ("call-id", f"bench-{n}@192.0.2.10"),
            ("cseq", f"1 {method}"),
            ("contact", "<sip:1001@192.0.2.10:5060>"),
        ],
    )


def _pump(src: Endpoint, dst: Endpoint, source: tuple[str, int], now: float) -> None:
    for d in src.outgoing():
        dst.receive(d.data, source, d.transport, now)


def _drain(ep: Endpoint) -> list[Event]:
    out: list[Event] = []
    while (e := ep.next_event()) is not None:
        out.append(e)
    return out


def one_nict(a: Endpoint, b: Endpoint, n: int, now: float) -> None:
    a.send_request(_request("OPTIONS", n), B, Transport.UDP, now)
    _pump(a, b, A, now)
    for event in _drain(b):
        assert isinstance(event, RequestReceived)
        b.send_response(make_response(event.request, 200, to_tag="b"), now)
    _pump(b, a, B, now)
    _drain(a)


def one_invite(a: Endpoint, b: Endpoint, n: int, now: float) -> None:
    a.send_request(_request("INVITE", n), B, Transport.UDP, now)
    _pump(a, b, A, now)
    for event in _drain(b):
        assert isinstance(event, RequestReceived)
        b.send_response(make_response(event.request, 180, to_tag="b"), now)
        b.send_response(make_response(event.request, 200, to_tag="b"), now)
    _pump(b, a, B, now)
    _drain(a)
    a.send_ack(_request("ACK", n, to_tag="b"), B, Transport.UDP)
    _pump(a, b, A, now)
    _drain(b)


def run(case: str, seconds: float) -> float:
    a = Endpoint(local={Transport.UDP: A}, ids=IdSource(1))
    b = Endpoint(local={Transport.UDP: B}, ids=IdSource(2))
    step = one_nict if case == "nict" else one_invite
    n = 0
    now = 0.0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            step(a, b, n, now)
            n += 1
            now += 0.001
        a.handle_timer(now)
        b.handle_timer(now)
    elapsed = time.perf_counter() - start
    # let every timer run out: the tables must be empty afterwards
    now += 100.0
    a.handle_timer(now)
    b.handle_timer(now)
    assert len(a.transactions) == len(b.transactions) == 0, (a, b)
    return n / elapsed


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    for case in ("nict", "invite"):
        rate = run(case, seconds)
        sys.stdout.write(f"{case:8s} {rate:10.0f} exchanges/s\n")


if __name__ == "__main__":
    main()
