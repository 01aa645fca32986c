"""B2BUA call flows in process (no sockets): the races and corner cases of RFC 3261.

Two scripted phones exchange bytes with one Endpoint + Switch on a fake clock, so each
test reads as a sequence diagram and runs in milliseconds. Found by an RFC review:
re-INVITE with 100 Trying, delayed-offer 2xx retransmissions, BYE before ACK, crossed
BYEs, requests to an ended call, and a coverage step failing after a cancelled fork.
"""

# ruff: noqa: E501, E402
# mypy: ignore-errors
from __future__ import annotations

"""In-process harness (after benchmarks/bench_calls.py)."""
import logging
import pathlib

import structlog

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

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))

CONFIG = """
server: {listen: ["udp:127.0.0.1:5060"], state_dir: /tmp/call-flows-state}
customers:
  - name: bench
    domain: bench.test
    user_groups: [{name: users}]
    extensions:
      - {number: "100", name: Caller, password: pw100, user_group: users}
      - {number: "200", name: Callee, password: pw200, user_group: users}
"""
SWITCH = ("127.0.0.1", 5060)
CALLER = ("127.0.0.1", 7000)
CALLEE = ("127.0.0.1", 7001)
SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


class H:
    def __init__(self, offline=False, config=None):
        self.offline = offline
        self.now = 1_000_000.0
        self.endpoint = Endpoint(local={Transport.UDP: SWITCH}, ids=IdSource(1))
        store = MemoryStore()
        store.save(
            Binding(
                aor="200@bench.test",
                contact="sip:200@127.0.0.1:7001",
                source=CALLEE,
                transport="UDP",
                expires_at=self.now + 1e6,
                call_id="r",
                cseq=1,
            )
        )
        self.sw = Switch(
            endpoint=self.endpoint,
            directory=Directory.build(parse_config(config or CONFIG)),
            location=store,
            state_store=store,
            ids=self.endpoint.ids,
            authenticator=DigestAuthenticator(b"k" * 32),
            throttle=AuthThrottle(10, 60, 60),
            policy=RegistrarPolicy(),
            contacts={Transport.UDP: "<sip:s@127.0.0.1:5060>"},
            now=self.now,
            voicemail=VoicemailStore(pathlib.Path("/tmp/call-flows-vm")),
        )
        self.inbox = {CALLER: [], CALLEE: []}

    def pump(self):
        while (e := self.endpoint.next_event()) is not None:
            self.sw.on_event(e, self.now)
        for d in self.endpoint.outgoing():
            self.inbox.setdefault(d.destination, []).append(d.data)

    def send(self, msg, src):
        data = msg if isinstance(msg, bytes) else serialize(msg)
        self.endpoint.receive(data, src, Transport.UDP, self.now)
        self.pump()

    def advance(self, secs, step=0.25):
        end = self.now + secs
        while self.now < end:
            self.now = min(end, self.now + step)
            self.endpoint.handle_timer(self.now)
            self.sw.handle_timer(self.now)
            self.pump()

    def take(self, who):
        got = [parse_message(d) for d in self.inbox.get(who, [])]
        self.inbox[who] = []
        return got

    def reqs(self, who, method=None):
        return [
            m
            for m in self.take(who)
            if isinstance(m, Request) and (method is None or m.method == method)
        ]

    def answered_call(self, offer=True, cid="c1"):
        def invite(cseq, auth):
            h = [
                ("via", f"SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK{cid}i{cseq};rport"),
                ("from", "<sip:100@bench.test>;tag=ta"),
                ("to", "<sip:200@bench.test>"),
                ("call-id", cid),
                ("cseq", f"{cseq} INVITE"),
                ("max-forwards", "70"),
                ("contact", "<sip:100@127.0.0.1:7000>"),
            ]
            if offer:
                h.append(("content-type", "application/sdp"))
            if auth:
                h.append(("proxy-authorization", auth))
            return Request("INVITE", parse_uri("sip:200@bench.test"), h, SDP if offer else b"")

        self.send(invite(1, None), CALLER)
        ch = next(m for m in self.take(CALLER) if isinstance(m, Response) and m.status == 407)
        self.send(
            Request(
                "ACK",
                parse_uri("sip:200@bench.test"),
                [
                    ("via", ch.get("via")),
                    ("from", ch.get("from")),
                    ("to", ch.get("to")),
                    ("call-id", cid),
                    ("cseq", "1 ACK"),
                    ("max-forwards", "70"),
                ],
            ),
            CALLER,
        )
        auth = answer_challenge(
            parse_auth(ch.get("proxy-authenticate")),
            method="INVITE",
            uri="sip:200@bench.test",
            username="100",
            password="pw100",
            cnonce="abc",
        )
        self.send(invite(2, auth), CALLER)
        self.b_invite = next(m for m in self.take(CALLEE) if isinstance(m, Request))
        self.take(CALLER)
        if getattr(self, "offline", False):
            return
        self.send(make_response(self.b_invite, 180, to_tag="tb"), CALLEE)
        ok = make_response(self.b_invite, 200, to_tag="tb")
        ok.add("contact", "<sip:200@127.0.0.1:7001>")
        ok.add("content-type", "application/sdp")
        ok.body = SDP
        self.b_ok = ok
        self.send(ok, CALLEE)
        self.a_ok = next(
            m for m in self.take(CALLER) if isinstance(m, Response) and m.status == 200
        )
        self.cid = cid

    def a_req(self, method, cseq, body=b"", branch=None):
        h = [
            (
                "via",
                f"SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK{branch or method + str(cseq)};rport",
            ),
            ("from", "<sip:100@bench.test>;tag=ta"),
            ("to", self.a_ok.get("to")),
            ("call-id", self.cid),
            ("cseq", f"{cseq} {method}"),
            ("max-forwards", "70"),
            ("contact", "<sip:100@127.0.0.1:7000>"),
        ]
        if body:
            h.append(("content-type", "application/sdp"))
        return Request(method, self.a_ok.contacts[0].uri, h, body)

    def b_req(self, method, cseq, body=b""):
        inv = self.b_invite
        h = [
            ("via", f"SIP/2.0/UDP 127.0.0.1:7001;branch=z9hG4bKb{method}{cseq};rport"),
            ("from", f"{inv.get('to')};tag=tb"),
            ("to", inv.get("from")),
            ("call-id", inv.call_id),
            ("cseq", f"{cseq} {method}"),
            ("max-forwards", "70"),
            ("contact", "<sip:200@127.0.0.1:7001>"),
        ]
        if body:
            h.append(("content-type", "application/sdp"))
        return Request(method, parse_uri("sip:s@127.0.0.1:5060"), h, body)

    def a_ack(self):
        self.send(self.a_req("ACK", 2, branch="ackA"), CALLER)




def test_reinvite_with_100_trying_is_answered():
    h = H()
    h.answered_call()
    h.a_ack()
    h.take(CALLEE)
    h.send(h.a_req("INVITE", 3, SDP), CALLER)  # caller puts the call on hold
    reinv = h.reqs(CALLEE, "INVITE")[0]
    h.send(make_response(reinv, 100), CALLEE)  # callee: 100 Trying (every real phone)
    ok = make_response(reinv, 200)
    ok.add("contact", "<sip:200@127.0.0.1:7001>")
    ok.add("content-type", "application/sdp")
    ok.body = SDP
    h.send(ok, CALLEE)
    finals = [m for m in h.take(CALLER) if isinstance(m, Response) and m.status >= 200]
    assert finals and finals[0].status == 200, "caller never gets the 200 for its re-INVITE"
    assert h.reqs(CALLEE, "ACK"), "callee's 200 to the re-INVITE is never ACKed"


def test_delayed_offer_2xx_retransmission_does_not_hang_up_callee():
    h = H()
    h.answered_call(offer=False)
    h.take(CALLEE)
    h.send(h.b_ok, CALLEE)  # callee retransmits its 200 (T1) before the caller's ACK
    assert not h.reqs(CALLEE, "BYE"), "2xx retransmission makes the switch BYE the callee"


def test_bye_before_ack_no_second_bye_after_ack_timeout():
    h = H()
    h.answered_call()
    h.take(CALLEE)
    h.send(h.a_req("BYE", 3), CALLER)  # caller hangs up; its ACK was lost
    bye = h.reqs(CALLEE, "BYE")[0]
    h.take(CALLER)
    h.send(make_response(bye, 200), CALLEE)
    h.advance(35)
    byes = h.reqs(CALLEE, "BYE")
    assert not byes, (
        f"a second BYE (CSeq {byes[0].cseq.seq if byes else ''}) for a dialog already ended"
    )
    assert not h.reqs(CALLER, "BYE"), "BYE to the caller who already hung up"


def test_bye_glare_no_bye_back_to_caller():
    h = H()
    h.answered_call()
    h.a_ack()
    h.take(CALLEE)
    h.send(h.a_req("BYE", 3), CALLER)
    h.send(h.b_req("BYE", 1), CALLEE)  # crossed BYE from the callee
    assert not [m for m in h.take(CALLER) if isinstance(m, Request) and m.method == "BYE"]


def test_reinvite_after_call_ended_gets_481():
    h = H()
    h.answered_call()
    h.a_ack()
    h.take(CALLEE)
    h.send(h.b_req("BYE", 1), CALLEE)
    h.take(CALLER)
    h.take(CALLEE)
    h.send(h.a_req("INVITE", 3, SDP), CALLER)
    assert not h.reqs(CALLEE, "INVITE"), "re-INVITE relayed into a dead dialog"
    finals = [m for m in h.take(CALLER) if isinstance(m, Response) and m.status >= 200]
    assert finals and finals[0].status == 481


def test_status_zero_after_coverage_from_an_offline_phone():
    config = CONFIG.replace(
        '      - {number: "200", name: Callee, password: pw200, user_group: users}\n',
        '      - {number: "200", name: Callee, password: pw200, user_group: users,\n'
        '         coverage: {no_answer_seconds: 5, no_answer: "201"}}\n'
        '      - {number: "201", name: Cover, password: pw201, user_group: users}\n',
    )
    from switch.location import Binding

    h = H(offline=True, config=config)
    h.sw.location.save(
        Binding(
            aor="201@bench.test",
            contact="sip:201@127.0.0.1:7002",
            source=("127.0.0.1", 7002),
            transport="UDP",
            expires_at=h.now + 1e6,
            call_id="r2",
            cseq=1,
        )
    )
    try:
        h.answered_call()  # 200 is offline: StopIteration on no 200 is expected below
    except StopIteration:
        pass
    h.advance(5.5)  # 200 never answered: coverage to 201
    inv = [m for m in h.take(("127.0.0.1", 7002)) if isinstance(m, Request)][0]
    h.send(make_response(inv, 480, to_tag="tc"), ("127.0.0.1", 7002))
    finals = [m for m in h.take(CALLER) if isinstance(m, Response) and m.status >= 200]
    assert finals and finals[-1].status == 480, [f"{m.status} {m.reason}" for m in finals]


def test_mwi_subscription_that_is_not_refreshed_ends_with_terminated_notify():
    # RFC 6665 §4.2.2: the notifier ends an expired subscription with a NOTIFY
    h = H()

    def subscribe(cseq, auth=None):
        headers = [
            ("via", f"SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKsub{cseq};rport"),
            ("from", "<sip:100@bench.test>;tag=s1"), ("to", "<sip:100@bench.test>"),
            ("call-id", "sub-1"), ("cseq", f"{cseq} SUBSCRIBE"), ("max-forwards", "70"),
            ("contact", "<sip:100@127.0.0.1:7000>"), ("event", "message-summary"),
            ("expires", "10"),
        ]
        if auth:
            headers.append(("authorization", auth))
        return Request("SUBSCRIBE", parse_uri("sip:100@bench.test"), headers)

    h.send(subscribe(1), CALLER)
    challenge = next(m for m in h.take(CALLER) if isinstance(m, Response))
    assert challenge.status == 401
    auth = answer_challenge(parse_auth(challenge.get("www-authenticate")), method="SUBSCRIBE",
                            uri="sip:100@bench.test", username="100", password="pw100",
                            cnonce="c")
    h.send(subscribe(2, auth), CALLER)
    got = h.take(CALLER)
    assert any(isinstance(m, Response) and m.status == 200 for m in got)
    first = [m for m in got if isinstance(m, Request) and m.method == "NOTIFY"]
    assert first and first[0].get("subscription-state").startswith("active")
    h.advance(11)
    last = h.reqs(CALLER, "NOTIFY")
    assert last and last[-1].get("subscription-state").startswith("terminated")
