"""In-process B2BUA call cost: the switch's CPU per call with no sockets and no SIPp.

Two scripted phones (caller 100, callee 200) exchange bytes with one Endpoint+Switch;
only the switch's side is timed (Endpoint.receive plus the event pump), so the
figure is the switch's own CPU per call: INVITE -> 407 -> ACK -> INVITE (digest)
-> 100/180/200 -> ACK -> BYE -> 200, forked to the callee's one contact.

    .venv/bin/python benchmarks/bench_calls.py [calls] [--target=extension|hunt|calling]
                                               [--log] [--profile]

`hunt` dials a round-robin hunt group of the three phones (each call rings one member,
who answers); `calling` dials a calling group of the three (all ring, the first answers,
the other two get CANCEL and answer 200 + 487).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sipstack.message import make_response  # noqa: E402
from tests.support.inproc import InProcessSwitch, answer  # noqa: E402

CONFIG = """
server: {listen: ["udp:127.0.0.1:5060"], state_dir: /tmp/bench-calls}
customers:
  - name: bench
    domain: bench.test
    user_groups: [{name: users}]
    extensions:
      - {number: "100", name: Caller, password: pw100, user_group: users}
      - {number: "200", name: Callee, password: pw200, user_group: users}
      - {number: "201", name: Second, password: pw201, user_group: users}
      - {number: "202", name: Third, password: pw202, user_group: users}
    hunt_groups:
      - {name: hunt, number: "600", strategy: round_robin, members: ["200", "201", "202"],
         ring_seconds: 10}
    calling_groups:
      - {name: ring-all, number: "700", members: ["200", "201", "202"], ring_seconds: 20}
"""
CALLER = ("127.0.0.1", 7000)
CALLEE = ("127.0.0.1", 7001)
PHONES = {"200": CALLEE, "201": ("127.0.0.1", 7002), "202": ("127.0.0.1", 7003)}


class Bench:
    def __init__(self) -> None:
        if "--log" in sys.argv:  # the real JSON logging, written to /dev/null
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115
            from switch.shell.logconfig import configure_logging

            configure_logging("json", "info")
        else:
            import logging

            import structlog

            structlog.configure(
                wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
                cache_logger_on_first_use=True,
            )
        self.sw = InProcessSwitch(CONFIG, registered=PHONES, timed=True)

    def call(self, n: int, dialled: str = "200") -> None:
        sw = self.sw
        call = sw.dial(CALLER, "100", "pw100", dialled, call_id=f"call-{n}")
        forks = {a: m for a in PHONES.values() for m in sw.requests(a, "INVITE")}
        sw.take(CALLER)
        for address, invite_to in forks.items():
            sw.send(make_response(invite_to, 180, to_tag=f"c{n}{address[1]}"), address)
        # the first phone (or the one hunt member rung) answers; the others are cancelled
        winner = CALLEE if CALLEE in forks else next(iter(forks))
        answer(sw, forks[winner], winner, f"c{n}{winner[1]}")
        call.answered()
        sw.take(winner)  # our ACK
        for address, invite_to in forks.items():
            for cancel in sw.requests(address):
                assert cancel.method == "CANCEL", cancel
                sw.send(make_response(cancel, 200), address)
                sw.send(make_response(invite_to, 487, to_tag=f"c{n}{address[1]}"), address)
            sw.take(address)  # the ACK for the 487
        call.ack()
        call.bye()
        bye = sw.requests(winner, "BYE")[0]
        sw.send(make_response(bye, 200), winner)
        sw.take(CALLER)
        sw.now += 0.001


TARGETS = {"extension": "200", "hunt": "600", "calling": "700"}


def main() -> None:
    calls = int(next((a for a in sys.argv[1:] if a.isdigit()), "2000"))
    target = next(
        (a[len("--target=") :] for a in sys.argv if a.startswith("--target=")), "extension"
    )
    dialled = TARGETS[target]
    bench = Bench()
    for n in range(200):  # warm-up
        bench.call(n, dialled)
    bench.sw.switch_seconds = 0.0
    profiler = cProfile.Profile() if "--profile" in sys.argv else None
    if profiler:
        profiler.enable()
    for n in range(200, 200 + calls):
        bench.call(n, dialled)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    per_call = bench.sw.switch_seconds / calls
    sys.stdout = sys.__stdout__
    print(
        f"{target} ({dialled}) {calls} calls: switch CPU {per_call * 1e3:.3f} ms per call "
        f"-> {1 / per_call:,.0f} calls/s on one core (no sockets, no logging)"
    )


if __name__ == "__main__":
    main()
