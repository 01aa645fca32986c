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
import time

from config import parse_config
from sipstack.endpoint import Endpoint
from sipstack.header_values import parse_auth
from sipstack.ids import IdSource
from sipstack.message import Request, Response, make_response
from sipstack.parse import parse_message
from sipstack.serialize import serialize
from sipstack.transport import Transport
from sipstack.uri import parse_uri
from switch.auth import AuthThrottle, DigestAuthenticator, answer_challenge
from switch.core import Switch
from switch.directory import Directory
from switch.location import Binding
from switch.media.voicemail import VoicemailStore
from switch.registrar import RegistrarPolicy
from switch.storage.memory import MemoryStore

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
SWITCH = ("127.0.0.1", 5060)
CALLER = ("127.0.0.1", 7000)
CALLEE = ("127.0.0.1", 7001)
PHONES = {"200": CALLEE, "201": ("127.0.0.1", 7002), "202": ("127.0.0.1", 7003)}
SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


class Bench:
    def __init__(self) -> None:
        if "--log" in sys.argv:  # the real JSON logging, written to /dev/null
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115
            from switch.logconfig import configure_logging

            configure_logging("json", "info")
        else:
            import logging

            import structlog

            structlog.configure(
                wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
                cache_logger_on_first_use=True)
        self.now = 1_000_000.0
        self.endpoint = Endpoint(local={Transport.UDP: SWITCH}, ids=IdSource(1))
        store = MemoryStore()
        for number, address in PHONES.items():
            store.save(Binding(aor=f"{number}@bench.test",
                               contact=f"sip:{number}@127.0.0.1:{address[1]}",
                               source=address, transport="UDP", expires_at=self.now + 1e6,
                               call_id=f"reg{number}", cseq=1))
        self.switch = Switch(
            endpoint=self.endpoint, directory=Directory.build(parse_config(CONFIG)),
            location=store, state_store=store, ids=self.endpoint.ids,
            authenticator=DigestAuthenticator(b"k" * 32), throttle=AuthThrottle(10, 60, 60),
            policy=RegistrarPolicy(), contacts={Transport.UDP: "<sip:s@127.0.0.1:5060>"},
            now=self.now, voicemail=VoicemailStore(__import__("pathlib").Path("/tmp/bc")),
        )
        self.switch_time = 0.0
        self.inbox: dict[tuple[str, int], list[bytes]] = {CALLER: [], **{
            a: [] for a in PHONES.values()}}

    def send(self, data: bytes, source: tuple[str, int]) -> None:
        start = time.perf_counter()
        self.endpoint.receive(data, source, Transport.UDP, self.now)
        while (event := self.endpoint.next_event()) is not None:
            self.switch.on_event(event, self.now)
        out = self.endpoint.outgoing()
        self.switch_time += time.perf_counter() - start
        for d in out:
            self.inbox[d.destination].append(d.data)

    def take(self, who: tuple[str, int]) -> list[Request | Response]:
        got = [parse_message(d) for d in self.inbox[who]]
        self.inbox[who] = []
        return got

    def call(self, n: int, dialled: str = "200") -> None:
        call_id = f"call-{n}"
        def invite(cseq: int, auth: str | None) -> bytes:
            headers = [
                ("via", f"SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK{n}x{cseq};rport"),
                ("from", f"<sip:100@bench.test>;tag=t{n}"), ("to", f"<sip:{dialled}@bench.test>"),
                ("call-id", call_id), ("cseq", f"{cseq} INVITE"), ("max-forwards", "70"),
                ("contact", "<sip:100@127.0.0.1:7000>"), ("content-type", "application/sdp")]
            if auth:
                headers.append(("proxy-authorization", auth))
            return serialize(Request("INVITE", parse_uri(f"sip:{dialled}@bench.test"),
                                     headers, SDP))
        self.send(invite(1, None), CALLER)
        challenge = next(m for m in self.take(CALLER)
                         if isinstance(m, Response) and m.status != 100)
        assert challenge.status == 407, challenge
        ack = serialize(Request("ACK", challenge.to.uri, [
            ("via", challenge.get("via") or ""), ("from", challenge.get("from") or ""),
            ("to", challenge.get("to") or ""), ("call-id", call_id), ("cseq", "1 ACK"),
            ("max-forwards", "70")]))
        self.send(ack, CALLER)
        chal = parse_auth(challenge.get("proxy-authenticate") or "")
        auth = answer_challenge(chal, method="INVITE", uri=f"sip:{dialled}@bench.test",
                                username="100", password="pw100", cnonce="abc")
        self.send(invite(2, auth), CALLER)
        forks = {a: m for a in PHONES.values() for m in self.take(a) if isinstance(m, Request)}
        self.take(CALLER)
        for address, invite_to in forks.items():
            self.send(serialize(make_response(invite_to, 180, to_tag=f"c{n}{address[1]}")),
                      address)
        # the first phone (or the one hunt member rung) answers; the others are cancelled
        winner = CALLEE if CALLEE in forks else next(iter(forks))
        forked = forks[winner]
        ok = make_response(forked, 200, to_tag=f"c{n}{winner[1]}")
        ok.add("contact", f"<sip:x@127.0.0.1:{winner[1]}>")
        ok.add("content-type", "application/sdp")
        ok.body = SDP
        self.send(serialize(ok), winner)
        answered = [m for m in self.take(CALLER) if isinstance(m, Response) and m.status == 200]
        assert answered, "caller got no 200"
        self.take(winner)  # our ACK
        for address, invite_to in forks.items():
            for cancel in [m for m in self.take(address) if isinstance(m, Request)]:
                assert cancel.method == "CANCEL", cancel
                self.send(serialize(make_response(cancel, 200)), address)
                self.send(serialize(make_response(invite_to, 487, to_tag=f"c{n}{address[1]}")),
                          address)
            self.take(address)  # the ACK for the 487
        to = answered[0].get("to") or ""
        self.send(serialize(Request("ACK", parse_uri("sip:s@127.0.0.1:5060"), [
            ("via", f"SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK{n}ack;rport"),
            ("from", f"<sip:100@bench.test>;tag=t{n}"), ("to", to), ("call-id", call_id),
            ("cseq", "2 ACK"), ("max-forwards", "70")])), CALLER)
        bye_uri = answered[0].contacts[0].uri
        self.send(serialize(Request("BYE", bye_uri, [
            ("via", f"SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK{n}bye;rport"),
            ("from", f"<sip:100@bench.test>;tag=t{n}"), ("to", to), ("call-id", call_id),
            ("cseq", "3 BYE"), ("max-forwards", "70")])), CALLER)
        bye = next(m for m in self.take(winner) if isinstance(m, Request))
        self.send(serialize(make_response(bye, 200)), winner)
        self.take(CALLER)
        self.now += 0.001


TARGETS = {"extension": "200", "hunt": "600", "calling": "700"}


def main() -> None:
    calls = int(next((a for a in sys.argv[1:] if a.isdigit()), "2000"))
    target = next((a[len("--target="):] for a in sys.argv if a.startswith("--target=")),
                  "extension")
    dialled = TARGETS[target]
    bench = Bench()
    for n in range(200):  # warm-up
        bench.call(n, dialled)
    bench.switch_time = 0.0
    profiler = cProfile.Profile() if "--profile" in sys.argv else None
    if profiler:
        profiler.enable()
    for n in range(200, 200 + calls):
        bench.call(n, dialled)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    per_call = bench.switch_time / calls
    sys.stdout = sys.__stdout__
    print(f"{target} ({dialled}) {calls} calls: switch CPU {per_call * 1e3:.3f} ms per call "
          f"-> {1 / per_call:,.0f} calls/s on one core (no sockets, no logging)")


if __name__ == "__main__":
    main()
