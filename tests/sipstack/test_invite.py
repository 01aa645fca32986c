"""INVITE usage in the UA core (RFC 3261 §9.1, §13.2.2.4, §13.3.1.4; RFC 6026).

Requirements covered:
- UAS 2xx retransmission at T1, 2T1, ... capped at T2, over UDP only, until the
  ACK (same Call-ID and CSeq number) or 64*T1 -> AckTimedOut;
- UAC: a retransmitted 2xx already ACKed is answered with the same ACK bytes
  and not passed up; a 2xx from another fork (other To tag) is passed up;
- CANCEL built per §9.1; the §9.1 64*T1 guard gives up the INVITE.
"""

from __future__ import annotations

from sipstack import (
    AckTimedOut,
    Datagram,
    Endpoint,
    Event,
    IdSource,
    Request,
    RequestReceived,
    ResponseReceived,
    TimerConfig,
    TransactionTimedOut,
    Transport,
    make_response,
    parse_message,
    serialize,
)
from sipstack.invite import InviteUsage, build_cancel
from sipstack.transport import Address
from sipstack.uri import parse_uri

A: Address = ("10.0.0.1", 5060)
B: Address = ("10.0.0.2", 5060)
CONFIG = TimerConfig()


def invite() -> Request:
    return Request(
        "INVITE",
        parse_uri("sip:bob@10.0.0.2"),
        [
            ("via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinv;rport"),
            ("route", "<sip:p1.example.com;lr>"),
            ("max-forwards", "70"),
            ("from", "<sip:alice@example.com>;tag=a1"),
            ("to", "<sip:bob@example.com>"),
            ("call-id", "call-inv"),
            ("cseq", "3 INVITE"),
            ("contact", "<sip:alice@10.0.0.1>"),
        ],
    )


def ack_for(to_tag: str) -> Request:
    return Request(
        "ACK",
        parse_uri("sip:bob@10.0.0.2"),
        [
            ("from", "<sip:alice@example.com>;tag=a1"),
            ("to", f"<sip:bob@example.com>;tag={to_tag}"),
            ("call-id", "call-inv"),
            ("cseq", "3 ACK"),
        ],
    )


# -- InviteUsage alone ------------------------------------------------------------------


def test_2xx_retransmission_schedule_and_give_up() -> None:
    usage = InviteUsage(CONFIG)
    d = Datagram(b"SIP/2.0 200 OK\r\n\r\n", A, Transport.UDP)
    usage.start_2xx("c", 1, d, "tx", 0.0)
    times = []
    while (due := usage.get_timer()) is not None:
        sent, timed_out = usage.handle_timer(due)
        if sent:
            assert sent == [d]
            times.append(due)
        if timed_out:
            assert timed_out == [AckTimedOut("tx", "c")]
            assert due == 32.0
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps[:6] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert times[-1] < 32.0


def test_ack_stops_2xx_retransmission() -> None:
    usage = InviteUsage(CONFIG)
    usage.start_2xx("c", 1, Datagram(b"x", A, Transport.UDP), "tx", 0.0)
    assert usage.awaiting_ack("c", 1)
    assert usage.ack_received("c", 1)
    assert not usage.ack_received("c", 1)
    assert usage.get_timer() is None
    assert usage.handle_timer(100.0) == ([], [])


def test_reliable_2xx_is_not_retransmitted_but_still_times_out() -> None:
    usage = InviteUsage(CONFIG)
    usage.start_2xx("c", 1, Datagram(b"x", A, Transport.TCP), "tx", 0.0)
    assert usage.get_timer() == 32.0
    assert usage.handle_timer(32.0) == ([], [AckTimedOut("tx", "c")])


def test_cached_ack_expires_after_64_t1() -> None:
    usage = InviteUsage(CONFIG)
    d = Datagram(b"ACK", B, Transport.UDP)
    usage.remember_ack("c", 1, "t", d, 1.0)
    assert usage.cached_ack("c", 1, "t") is d
    assert usage.cached_ack("c", 1, "other") is None
    assert usage.get_timer() == 33.0
    usage.handle_timer(33.0)
    assert usage.cached_ack("c", 1, "t") is None and len(usage) == 0


def test_build_cancel_follows_9_1() -> None:
    original = invite()
    cancel = build_cancel(original, reason="SIP;cause=200")
    assert cancel.method == "CANCEL" and cancel.uri == original.uri
    assert cancel.get_all("via") == [original.get("via")]
    for name in ("to", "from", "call-id", "route"):
        assert cancel.get(name) == original.get(name)
    assert str(cancel.cseq) == "3 CANCEL"
    assert cancel.get("reason") == "SIP;cause=200"
    assert cancel.get("contact") is None


# -- through two Endpoints ------------------------------------------------------------


class Pair:
    def __init__(self) -> None:
        self.a = Endpoint(local={Transport.UDP: A}, ids=IdSource(7))
        self.b = Endpoint(local={Transport.UDP: B}, ids=IdSource(8))

    def a_to_b(self, now: float) -> list[bytes]:
        out = self.a.outgoing()
        for d in out:
            self.b.receive(d.data, A, d.transport, now)
        return [d.data for d in out]

    def b_to_a(self, now: float) -> list[bytes]:
        out = self.b.outgoing()
        for d in out:
            self.a.receive(d.data, B, d.transport, now)
        return [d.data for d in out]

    def events(self, ep: Endpoint) -> list[Event]:
        out: list[Event] = []
        while (e := ep.next_event()) is not None:
            out.append(e)
        return out


def answered_call() -> tuple[Pair, str, RequestReceived]:
    pair = Pair()
    tx_id = pair.a.send_request(invite(), B, Transport.UDP, 0.0)
    pair.a_to_b(0.0)
    (incoming,) = pair.events(pair.b)
    assert isinstance(incoming, RequestReceived)
    pair.b_to_a(0.0)
    pair.b.send_response(make_response(incoming.request, 200, to_tag="bob1"), 0.1)
    pair.b_to_a(0.1)
    events = pair.events(pair.a)
    assert [e.response.status for e in events if isinstance(e, ResponseReceived)] == [100, 200]
    return pair, tx_id, incoming


def test_repeated_2xx_is_answered_with_the_same_ack_and_not_passed_up() -> None:
    pair, tx_id, incoming = answered_call()
    pair.a.send_ack(ack_for("bob1"), B, Transport.UDP)
    (ack_bytes,) = [d.data for d in pair.a.outgoing()]
    ack = parse_message(ack_bytes)
    assert ack.top_via.branch != parse_message(serialize(incoming.request)).top_via.branch
    # the ACK is lost; B retransmits the 2xx at T1
    pair.b.handle_timer(0.6)
    pair.b_to_a(0.6)
    assert pair.events(pair.a) == []
    assert [d.data for d in pair.a.outgoing()] == [ack_bytes]


def test_2xx_from_another_fork_is_passed_up() -> None:
    pair, tx_id, incoming = answered_call()
    pair.a.send_ack(ack_for("bob1"), B, Transport.UDP)
    pair.a.outgoing()
    fork = make_response(incoming.request, 200, to_tag="bob2")
    pair.a.receive(serialize(fork), B, Transport.UDP, 0.5)
    (event,) = pair.events(pair.a)
    assert isinstance(event, ResponseReceived) and event.response.to.tag == "bob2"
    assert event.tx_id == tx_id


def test_unacked_2xx_times_out() -> None:
    pair, tx_id, incoming = answered_call()
    sent = 0
    now = 0.1
    while (due := pair.b.get_timer()) is not None and due <= 32.1:
        now = due
        pair.b.handle_timer(now)
        sent += len(pair.b.outgoing())
    assert pair.events(pair.b) == [AckTimedOut(incoming.tx_id or "", "call-inv")]
    assert now == 32.1
    assert sent == 10  # 0.6 1.6 3.6 7.6 11.6 15.6 19.6 23.6 27.6 31.6


def test_cancel_guard_gives_up_invite_64_t1_after_cancel() -> None:
    pair = Pair()
    tx_id = pair.a.send_request(invite(), B, Transport.UDP, 0.0)
    pair.a_to_b(0.0)
    pair.b_to_a(0.0)  # 100 Trying: ICT in Proceeding, Timer B stopped
    pair.events(pair.a)
    assert pair.a.get_timer() is None
    cancel_id = pair.a.send_cancel(tx_id, 10.0)
    assert cancel_id is not None
    assert pair.a.send_cancel(tx_id, 10.5) == cancel_id  # idempotent
    pair.a.outgoing()  # the CANCEL is lost, and so is everything after it
    now = 10.0
    while (due := pair.a.get_timer()) is not None:
        now = due
        pair.a.handle_timer(now)
        pair.a.outgoing()
    events = pair.events(pair.a)
    assert TransactionTimedOut(tx_id, "INVITE") in events
    assert TransactionTimedOut(cancel_id, "CANCEL") in events
    assert now == 42.0
