"""Two Endpoints wired through an in-memory network, driven by a fake clock.

Requirements covered (RFC 3261 §8, §9, §13, §17, §18; RFC 3581; RFC 6026):
- INVITE: 100 Trying at once, 180, 200; the ACK stops 2xx retransmission;
- CANCEL: 200 to the CANCEL + CancelReceived, TU answers 487, the ICT ACKs it;
  CANCEL without a matching INVITE gets 481 and no event; CANCEL of a pending or
  completed non-INVITE gets 200 and changes nothing (§9.2);
- non-INVITE over a lossy link converges to exactly one request and one answer;
- responses go to the Via received/rport (NAT), or back to the source on TCP;
- malformed requests get a stateless 400/505 naming the problem; mangled
  responses are dropped; both raise MessageRejected;
- Timer B/F -> TransactionTimedOut; transport_failed -> TransportFailed;
- RFC 2543 requests (no magic cookie) still match their transaction.
No sockets, no sleeps: `now` only moves when the test says so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sipstack import (
    CancelReceived,
    Datagram,
    Endpoint,
    Event,
    IdSource,
    MessageRejected,
    Request,
    RequestReceived,
    Response,
    ResponseReceived,
    TransactionTimedOut,
    Transport,
    TransportFailed,
    make_response,
    parse_message,
    serialize,
)
from sipstack.transport import Address
from sipstack.uri import parse_uri

A: Address = ("10.0.0.1", 5060)
B: Address = ("10.0.0.2", 5070)
NAT: Address = ("203.0.113.5", 40000)  # where A's packets appear to come from


class Net:
    """Two endpoints, a clock, and a link that may drop datagrams."""

    def __init__(
        self,
        *,
        seed: int = 1,
        drop: Callable[[int, Datagram], bool] | None = None,
        nat: bool = False,
    ) -> None:
        self.now = 0.0
        self.a = Endpoint(local={Transport.UDP: A, Transport.TCP: A}, ids=IdSource(seed))
        self.b = Endpoint(local={Transport.UDP: B, Transport.TCP: B}, ids=IdSource(seed + 1))
        self.drop = drop
        self.nat = nat
        self.sent: list[tuple[str, Datagram]] = []
        self.events: dict[str, list[Event]] = {"a": [], "b": []}
        self.count = 0

    def _deliver(self) -> bool:
        moved = False
        for name, ep, peer in (("a", self.a, self.b), ("b", self.b, self.a)):
            for d in ep.outgoing():
                moved = True
                self.sent.append((name, d))
                self.count += 1
                if self.drop is not None and self.drop(self.count, d):
                    continue
                if name == "a":
                    source = NAT if self.nat else A
                    assert d.destination == B, d
                else:
                    source = B
                    assert d.destination == (NAT if self.nat else A), d
                peer.receive(d.data, source, d.transport, self.now)
        for name, ep in (("a", self.a), ("b", self.b)):
            while (event := ep.next_event()) is not None:
                self.events[name].append(event)
        return moved

    def settle(self) -> None:
        while self._deliver():
            pass

    def advance(self, until: float) -> None:
        """Fire every timer up to `until`, delivering traffic in between."""
        self.settle()
        while True:
            due = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            if not due or min(due) > until:
                break
            self.now = max(self.now, min(due))
            self.a.handle_timer(self.now)
            self.b.handle_timer(self.now)
            self.settle()
        self.now = until

    def take(self, name: str) -> list[Event]:
        out, self.events[name] = self.events[name], []
        return out

    def lines(self, name: str) -> list[str]:
        return [d.data.split(b"\r\n", 1)[0].decode() for who, d in self.sent if who == name]


def request(method: str, *, to_tag: str | None = None, seq: int = 1) -> Request:
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return Request(
        method,
        parse_uri("sip:bob@10.0.0.2:5070"),
        [
            ("from", "<sip:alice@example.com>;tag=alice1"),
            ("to", to),
            ("call-id", "call-1@example.com"),
            ("cseq", f"{seq} {method}"),
            ("contact", "<sip:alice@10.0.0.1>"),
        ],
    )


def only(events: list[Event], kind: type) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def statuses(events: list[Event]) -> list[int]:
    return [e.response.status for e in events if isinstance(e, ResponseReceived)]


def start_call(net: Net) -> tuple[str, RequestReceived]:
    tx_id = net.a.send_request(request("INVITE"), B, Transport.UDP, net.now)
    net.settle()
    (incoming,) = only(net.take("b"), RequestReceived)
    assert isinstance(incoming, RequestReceived)
    return tx_id, incoming


def test_invite_100_180_200_ack_stops_2xx_retransmission() -> None:
    net = Net()
    tx_id, incoming = start_call(net)
    assert tx_id.startswith("z9hG4bK")
    assert incoming.request.method == "INVITE" and incoming.tx_id is not None
    assert net.lines("b") == ["SIP/2.0 100 Trying"]  # sent at once by the IST
    net.b.send_response(make_response(incoming.request, 180, to_tag="bob1"), net.now)
    net.b.send_response(make_response(incoming.request, 200, to_tag="bob1"), net.now)
    net.settle()
    assert statuses(net.take("a")) == [100, 180, 200]
    ack = request("ACK", to_tag="bob1")
    net.a.send_ack(ack, B, Transport.UDP)
    net.settle()
    (got_ack,) = net.take("b")
    assert isinstance(got_ack, RequestReceived) and got_ack.tx_id is None
    assert got_ack.request.method == "ACK"
    sent_before = len(net.lines("b"))
    net.advance(40.0)
    assert len(net.lines("b")) == sent_before  # no 2xx retransmission after the ACK
    assert net.take("a") == [] and net.take("b") == []
    assert net.a.get_timer() is None and net.b.get_timer() is None  # all gone after 64*T1


def test_invite_retransmission_absorbed_by_ist() -> None:
    net = Net(drop=lambda n, d: n == 2)  # lose the 100 Trying
    tx_id, incoming = start_call(net)
    net.advance(0.6)  # Timer A fires: INVITE again; IST answers with the last 1xx
    assert only(net.take("b"), RequestReceived) == []
    assert net.lines("a") == ["INVITE sip:bob@10.0.0.2:5070 SIP/2.0"] * 2
    assert statuses(net.take("a")) == [100]


def test_cancel_200_cancel_received_487_and_ict_acks() -> None:
    net = Net()
    tx_id, incoming = start_call(net)
    net.b.send_response(make_response(incoming.request, 180, to_tag="bob1"), net.now)
    net.settle()
    cancel_id = net.a.send_cancel(tx_id, net.now, reason='SIP;cause=200;text="elsewhere"')
    assert cancel_id is not None and cancel_id != tx_id
    net.settle()
    (cancelled,) = net.take("b")
    assert isinstance(cancelled, CancelReceived)
    assert cancelled.invite_tx_id == incoming.tx_id
    assert cancelled.cancel.get("reason") == 'SIP;cause=200;text="elsewhere"'
    # the CANCEL's 200 reached A on the CANCEL transaction, To tag as in the 180
    events = net.take("a")
    by_tx = {(e.tx_id, e.response.status) for e in events if isinstance(e, ResponseReceived)}
    assert (cancel_id, 200) in by_tx
    cancel_ok = next(e for e in events if isinstance(e, ResponseReceived) and e.tx_id == cancel_id)
    assert cancel_ok.response.to.tag == "bob1"
    net.b.send_response(make_response(incoming.request, 487, to_tag="bob1"), net.now)
    net.settle()
    assert statuses(net.take("a")) == [487]
    # the ICT generated the ACK (same branch as the INVITE); the IST absorbed it
    ack_line = net.lines("a")[-1]
    assert ack_line.startswith("ACK ")
    ack = parse_message(net.sent[-1][1].data)
    invite = parse_message(net.sent[0][1].data)
    assert ack.top_via.branch == invite.top_via.branch
    assert net.take("b") == []
    net.advance(40.0)
    assert net.lines("b").count("SIP/2.0 487 Request Terminated") == 1  # no G retransmits
    assert net.a.get_timer() is None and net.b.get_timer() is None


def test_cancel_without_invite_gets_481_and_no_event() -> None:
    net = Net()
    cancel = request("CANCEL")
    net.a.send_request(cancel, B, Transport.UDP, net.now)
    net.settle()
    assert net.take("b") == []
    assert statuses(net.take("a")) == [481]


def test_cancel_deferred_until_provisional() -> None:
    net = Net(drop=lambda n, d: n == 2)  # the 100 Trying is lost
    tx_id, incoming = start_call(net)
    cancel_id = net.a.send_cancel(tx_id, net.now)
    net.settle()
    assert cancel_id is not None
    assert not any(line.startswith("CANCEL") for line in net.lines("a"))
    net.b.send_response(make_response(incoming.request, 180, to_tag="bob1"), net.now)
    net.settle()
    assert any(line.startswith("CANCEL") for line in net.lines("a"))
    assert only(net.take("b"), CancelReceived)


def test_cancel_after_final_returns_none() -> None:
    net = Net()
    tx_id, incoming = start_call(net)
    net.b.send_response(make_response(incoming.request, 486, to_tag="bob1"), net.now)
    net.settle()
    assert net.a.send_cancel(tx_id, net.now) is None
    assert net.a.send_cancel("no-such-tx", net.now) is None


def test_non_invite_over_lossy_link_converges() -> None:
    # drop the first three datagrams of all, then every third one
    net = Net(drop=lambda n, d: n <= 3 or n % 3 == 0)
    tx_id = net.a.send_request(request("OPTIONS"), B, Transport.UDP, net.now)
    for step in range(1, 80):
        net.advance(step * 0.5)
        for event in net.take("b"):
            assert isinstance(event, RequestReceived)
            net.b.send_response(make_response(event.request, 200, to_tag="b"), net.now)
        if net.events["a"]:
            break
    (answer,) = net.take("a")
    assert isinstance(answer, ResponseReceived) and answer.tx_id == tx_id
    net.advance(net.now + 40.0)
    assert net.take("a") == [] and net.take("b") == []
    assert len(net.a.transactions) == 0 and len(net.b.transactions) == 0


def test_request_delivered_once_despite_retransmissions() -> None:
    net = Net(drop=lambda n, d: d.data.startswith(b"SIP/2.0 200") and n < 6)
    net.a.send_request(request("OPTIONS"), B, Transport.UDP, net.now)
    net.settle()
    (incoming,) = net.take("b")
    assert isinstance(incoming, RequestReceived)
    net.b.send_response(make_response(incoming.request, 200, to_tag="b"), net.now)
    net.advance(5.0)
    assert net.take("b") == []
    assert statuses(net.take("a")) == [200]


def test_responses_follow_received_and_rport() -> None:
    net = Net(nat=True)
    tx_id, incoming = start_call(net)
    top = incoming.request.top_via
    assert top.received == NAT[0] and top.rport == str(NAT[1])
    # the Net asserts every datagram from B is addressed to the NAT address
    net.b.send_response(make_response(incoming.request, 486, to_tag="x"), net.now)
    net.settle()
    assert statuses(net.take("a")) == [100, 486]


def test_response_without_transaction_goes_by_via() -> None:
    net = Net(nat=True)
    tx_id, incoming = start_call(net)
    net.b.send_response(make_response(incoming.request, 486, to_tag="x"), net.now)
    net.advance(40.0)
    assert len(net.b.transactions) == 0
    net.b.send_response(make_response(incoming.request, 486, to_tag="x"), net.now)
    (last,) = net.b.outgoing()
    assert last.destination == NAT and last.data.startswith(b"SIP/2.0 486")


def test_tcp_no_retransmission_and_reply_to_source() -> None:
    net = Net(nat=True)
    net.a.send_request(request("OPTIONS"), B, Transport.TCP, net.now)
    net.settle()
    (incoming,) = net.take("b")
    assert isinstance(incoming, RequestReceived) and incoming.transport is Transport.TCP
    net.advance(10.0)
    assert net.lines("a") == ["OPTIONS sip:bob@10.0.0.2:5070 SIP/2.0"]
    net.b.send_response(make_response(incoming.request, 200, to_tag="t"), net.now)
    net.settle()
    assert statuses(net.take("a")) == [200]
    assert len(net.a.transactions) == 0 and len(net.b.transactions) == 0  # K = J = 0


def test_malformed_request_gets_400_with_reason() -> None:
    net = Net()
    bad = (
        b"OPTIONS sip:bob@10.0.0.2:5070 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbad;rport\r\n"
        b"From: <sip:alice@example.com>;tag=1\r\n"
        b"To: <sip:bob@example.com>\r\n"
        b"Call-ID: bad-1\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    net.b.receive(bad, A, Transport.UDP, 0.0)
    (rejected,) = [net.b.next_event()]
    assert isinstance(rejected, MessageRejected)
    assert rejected.status == 400 and rejected.source == A and rejected.reason
    (out,) = net.b.outgoing()
    response = parse_message(out.data)
    assert isinstance(response, Response)
    assert response.status == 400 and response.reason == rejected.reason
    assert response.call_id == "bad-1" and response.to.tag is not None
    assert response.top_via.received == "10.0.0.1" and out.destination == A


def test_wrong_version_gets_505() -> None:
    net = Net()
    bad = (
        b"OPTIONS sip:bob@10.0.0.2 SIP/7.0\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKv\r\n"
        b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: v\r\nCSeq: 1 OPTIONS\r\n\r\n"
    )
    net.b.receive(bad, A, Transport.UDP, 0.0)
    event = net.b.next_event()
    assert isinstance(event, MessageRejected) and event.status == 505
    assert parse_message(net.b.outgoing()[0].data).status == 505  # type: ignore[union-attr]


def test_request_whose_via_is_the_fault_is_answered_at_its_source() -> None:
    # RFC 4475 §3.1.2.1 and §3.1.2.16, the RFC's own bytes: the Via cannot be read, so
    # the 400/505 goes back where the datagram came from with the Via as it was sent
    vectors = Path(__file__).resolve().parent.parent / "vectors" / "rfc4475" / "invalid"
    for name, status in (("badinv01", 400), ("badvers", 505)):
        net = Net()
        data = (vectors / f"{name}.sip").read_bytes()
        net.b.receive(data, A, Transport.UDP, 0.0)
        event = net.b.next_event()
        assert isinstance(event, MessageRejected) and event.status == status, name
        (out,) = net.b.outgoing()
        assert out.destination == A
        assert out.data.startswith(f"SIP/2.0 {status} ".encode())
        (via,) = [line for line in data.split(b"\r\n") if line.startswith(b"Via:")]
        value = via.split(b":", 1)[1].strip()
        assert b"\r\nVia: " + value + b"\r\n" in out.data, name
        assert b";tag=" in out.data.split(b"\r\nTo:", 1)[1].split(b"\r\n", 1)[0]


def test_garbage_is_dropped() -> None:
    net = Net()
    net.b.receive(b"\x00\xff garbage", A, Transport.UDP, 0.0)
    event = net.b.next_event()
    assert isinstance(event, MessageRejected) and event.status is None
    assert net.b.outgoing() == []
    net.b.receive(b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", A, Transport.UDP, 0.0)
    event = net.b.next_event()
    assert isinstance(event, MessageRejected) and event.status is None
    assert net.b.outgoing() == []


def test_stray_response_is_dropped_silently() -> None:
    net = Net()
    tx_id, incoming = start_call(net)
    stray = make_response(incoming.request, 200, to_tag="z")
    stray.set("via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKunknown")
    net.a.receive(serialize(stray), B, Transport.UDP, net.now)
    assert net.a.next_event() is None


def test_timer_b_times_out_invite() -> None:
    net = Net(drop=lambda n, d: True)
    tx_id = net.a.send_request(request("INVITE"), B, Transport.UDP, net.now)
    net.advance(31.9)
    assert net.take("a") == []
    assert (
        net.lines("a").count("INVITE sip:bob@10.0.0.2:5070 SIP/2.0") == 7
    )  # 0 .5 1.5 3.5 7.5 15.5 31.5
    net.advance(32.0)
    (timeout,) = net.take("a")
    assert timeout == TransactionTimedOut(tx_id, "INVITE")


def test_timer_f_times_out_non_invite() -> None:
    net = Net(drop=lambda n, d: True)
    tx_id = net.a.send_request(request("OPTIONS"), B, Transport.UDP, net.now)
    net.advance(33.0)
    assert net.take("a") == [TransactionTimedOut(tx_id, "OPTIONS")]
    # E: 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5 + the original
    assert len(net.lines("a")) == 11


def test_transport_failed_reports_client_transactions_to_that_peer() -> None:
    net = Net(drop=lambda n, d: True)
    tx_id = net.a.send_request(request("OPTIONS"), B, Transport.TCP, net.now)
    other = net.a.send_request(request("OPTIONS", seq=2), ("10.9.9.9", 5060), Transport.TCP, 0.0)
    net.a.outgoing()
    net.a.transport_failed(B, Transport.TCP, 0.1)
    assert net.a.next_event() == TransportFailed(tx_id)
    assert net.a.next_event() is None
    assert other in net.a.transactions.client


def test_rfc2543_request_without_magic_cookie_matches() -> None:
    net = Net()
    raw = (
        b"OPTIONS sip:bob@10.0.0.2:5070 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.1:5060\r\n"
        b"From: <sip:alice@example.com>;tag=old\r\nTo: <sip:bob@example.com>\r\n"
        b"Call-ID: old-1\r\nCSeq: 5 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    net.b.receive(raw, A, Transport.UDP, 0.0)
    incoming = net.b.next_event()
    assert isinstance(incoming, RequestReceived) and incoming.tx_id is not None
    net.b.send_response(make_response(incoming.request, 200, to_tag="t"), 0.1)
    (first,) = net.b.outgoing()
    net.b.receive(raw, A, Transport.UDP, 0.2)  # retransmission
    assert net.b.next_event() is None
    assert net.b.outgoing() == [first]


def test_send_request_adds_via_max_forwards_user_agent() -> None:
    net = Net()
    net.a.send_request(request("OPTIONS"), B, Transport.UDP, 0.0)
    sent = parse_message(net.a.outgoing()[0].data)
    via = sent.top_via
    assert (via.transport, via.host, via.port) == ("UDP", "10.0.0.1", 5060)
    assert via.rport == "" and (via.branch or "").startswith("z9hG4bK")
    assert sent.get("max-forwards") == "70" and sent.get("user-agent") == "softswitch"


def test_repr_shows_seed() -> None:
    assert "seed=1" in repr(Net().a)


def test_via_sent_by_is_the_advertised_address_not_the_wildcard_bind() -> None:
    # RFC 3261 §18.1.1: sent-by names where responses must go; 0.0.0.0 goes nowhere.
    endpoint = Endpoint(
        local={Transport.UDP: ("0.0.0.0", 5060)},
        ids=IdSource(3),
        sent_by={Transport.UDP: ("127.0.0.5", 5060)},
    )
    request = Request(
        "OPTIONS",
        parse_uri("sip:peer@127.0.0.1:5070"),
        [
            ("from", "<sip:s@127.0.0.5>;tag=a"),
            ("to", "<sip:peer@127.0.0.1>"),
            ("call-id", "via-1"),
            ("cseq", "1 OPTIONS"),
            ("max-forwards", "70"),
        ],
    )
    endpoint.send_request(request, ("127.0.0.1", 5070), Transport.UDP, 0.0)
    [datagram] = endpoint.outgoing()
    assert b"Via: SIP/2.0/UDP 127.0.0.5:5060;branch=" in datagram.data
    assert b"0.0.0.0" not in datagram.data


def test_response_whose_top_via_is_not_ours_is_discarded() -> None:
    # RFC 3261 §18.1.2: a response that names another sent-by, even with our branch, is
    # not ours (a reflected or forged one) and is silently dropped.
    endpoint = Endpoint(local={Transport.UDP: ("127.0.0.5", 5060)}, ids=IdSource(4))
    request = Request(
        "OPTIONS",
        parse_uri("sip:peer@127.0.0.1:5070"),
        [
            ("from", "<sip:s@127.0.0.5>;tag=a"),
            ("to", "<sip:peer@127.0.0.1>"),
            ("call-id", "via-2"),
            ("cseq", "1 OPTIONS"),
            ("max-forwards", "70"),
        ],
    )
    endpoint.send_request(request, ("127.0.0.1", 5070), Transport.UDP, 0.0)
    [sent] = endpoint.outgoing()
    ours = serialize(make_response(parse_message(sent.data), 200, to_tag="p"))
    forged = ours.replace(b"127.0.0.5:5060", b"127.0.0.9:5060", 1)
    endpoint.receive(forged, ("127.0.0.1", 5070), Transport.UDP, 0.1)
    assert endpoint.next_event() is None
    endpoint.receive(ours, ("127.0.0.1", 5070), Transport.UDP, 0.2)
    assert endpoint.next_event() is not None


def test_merged_request_gets_482_and_never_reaches_the_tu() -> None:
    # RFC 3261 §8.2.2.2: one INVITE forked upstream arrives twice with other branches.
    endpoint = Endpoint(local={Transport.UDP: ("127.0.0.5", 5060)}, ids=IdSource(5))

    def invite(branch: str) -> bytes:
        return serialize(
            Request(
                "INVITE",
                parse_uri("sip:bob@127.0.0.5"),
                [
                    ("via", f"SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{branch}"),
                    ("from", "<sip:alice@127.0.0.1>;tag=al"),
                    ("to", "<sip:bob@127.0.0.5>"),
                    ("call-id", "merged-1"),
                    ("cseq", "7 INVITE"),
                    ("max-forwards", "69"),
                ],
            )
        )

    endpoint.receive(invite("path1"), ("127.0.0.1", 5070), Transport.UDP, 0.0)
    assert isinstance(endpoint.next_event(), RequestReceived)
    endpoint.receive(invite("path2"), ("127.0.0.1", 5070), Transport.UDP, 0.01)
    assert endpoint.next_event() is None
    sent = [parse_message(d.data) for d in endpoint.outgoing()]
    statuses = [m.status for m in sent if isinstance(m, Response)]
    assert 482 in statuses and statuses.count(482) == 1, statuses  # (and the first one's 100)


def _non_invite(method: str, branch: str, *, seq: int = 3, via_host: str = "10.0.0.1") -> bytes:
    """A non-INVITE request from A, or the CANCEL for it (same branch, CSeq number)."""
    return (
        f"{method} sip:bob@10.0.0.2:5070 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {via_host}:5060;branch=z9hG4bK{branch}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.com>;tag=al\r\nTo: <sip:bob@example.com>\r\n"
        f"Call-ID: ni-{branch}\r\nCSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _sent_statuses(endpoint: Endpoint) -> list[tuple[int, str]]:
    out = [parse_message(d.data) for d in endpoint.outgoing()]
    return [(m.status, m.cseq.method) for m in out if isinstance(m, Response)]


def test_cancel_of_pending_non_invite_gets_200_and_changes_nothing() -> None:
    # RFC 3261 §9.2: "A CANCEL request has no impact on the processing of transactions
    # with any other method" and "as long as the CANCEL matched an existing transaction,
    # the UAS answers the CANCEL request itself with a 200 (OK) response."
    net = Net()
    net.b.receive(_non_invite("OPTIONS", "opt1"), A, Transport.UDP, 0.0)
    incoming = net.b.next_event()
    assert isinstance(incoming, RequestReceived) and incoming.tx_id is not None
    net.b.receive(_non_invite("CANCEL", "opt1"), A, Transport.UDP, 0.1)
    assert net.b.next_event() is None  # no CancelReceived: the OPTIONS goes on
    assert _sent_statuses(net.b) == [(200, "CANCEL")]
    net.b.send_response(make_response(incoming.request, 200, to_tag="bob"), 0.2)
    assert _sent_statuses(net.b) == [(200, "OPTIONS")]
    net.b.receive(_non_invite("CANCEL", "opt1"), A, Transport.UDP, 0.3)  # retransmitted
    assert _sent_statuses(net.b) == [(200, "CANCEL")]


def test_cancel_of_completed_non_invite_gets_200_then_481_after_timer_j() -> None:
    net = Net()
    net.b.receive(_non_invite("REGISTER", "reg1"), A, Transport.UDP, 0.0)
    incoming = net.b.next_event()
    assert isinstance(incoming, RequestReceived)
    net.b.send_response(make_response(incoming.request, 404, to_tag="bob"), 0.1)
    (answer,) = net.b.outgoing()
    net.b.receive(_non_invite("CANCEL", "reg1"), A, Transport.UDP, 0.2)
    assert net.b.next_event() is None
    assert _sent_statuses(net.b) == [(200, "CANCEL")]
    net.b.receive(_non_invite("REGISTER", "reg1"), A, Transport.UDP, 0.3)
    assert net.b.outgoing() == [answer]  # the REGISTER's own answer is untouched
    # Timer J (64*T1) ends the REGISTER transaction: a later CANCEL matches nothing
    net.b.handle_timer(40.0)
    net.b.outgoing()
    assert net.b.transactions.server == {} and net.b.transactions.non_invite == {}
    net.b.receive(_non_invite("CANCEL", "reg1"), A, Transport.UDP, 40.1)
    assert _sent_statuses(net.b) == [(481, "CANCEL")]


def test_cancel_matches_branch_and_sent_by_only() -> None:
    # §17.2.3 matching: another branch or another sent-by is no match -> 481
    net = Net()
    net.b.receive(_non_invite("OPTIONS", "opt2"), A, Transport.UDP, 0.0)
    assert isinstance(net.b.next_event(), RequestReceived)
    net.b.receive(_non_invite("CANCEL", "opt3"), A, Transport.UDP, 0.1)
    net.b.receive(_non_invite("CANCEL", "opt2", via_host="10.0.0.9"), A, Transport.UDP, 0.1)
    assert _sent_statuses(net.b) == [(481, "CANCEL"), (481, "CANCEL")]
    assert net.b.next_event() is None


def test_cancel_of_rfc2543_non_invite_gets_200() -> None:
    # §9.2 with the RFC 2543 matching of §17.2.3 (no magic cookie in the branch)
    net = Net()

    def raw(method: str) -> bytes:
        return (
            f"{method} sip:bob@10.0.0.2:5070 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.1:5060\r\n"
            "From: <sip:alice@example.com>;tag=old\r\nTo: <sip:bob@example.com>\r\n"
            f"Call-ID: old-2\r\nCSeq: 5 {method}\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    net.b.receive(raw("OPTIONS"), A, Transport.UDP, 0.0)
    assert isinstance(net.b.next_event(), RequestReceived)
    net.b.receive(raw("CANCEL"), A, Transport.UDP, 0.1)
    assert net.b.next_event() is None
    assert _sent_statuses(net.b) == [(200, "CANCEL")]


# -- RFC 3261 §18.1.1: a request over 1300 bytes goes by TCP --------------------------


def big_request(method: str, size: int) -> Request:
    """`request(method)` with a body that makes it about `size` bytes on the wire."""
    req = request(method)
    req.body = b"v=0\r\n" + b"a=x\r\n" * (size // 5)
    req.add("content-type", "application/sdp")
    return req


def test_request_over_1300_bytes_goes_over_tcp_with_a_tcp_via() -> None:
    net = Net()
    tx_id = net.a.send_request(big_request("INVITE", 3293), B, Transport.UDP, 0.0)
    [datagram] = net.a.outgoing()
    assert len(datagram.data) > 1300
    assert datagram.transport is Transport.TCP and datagram.destination == B
    sent = parse_message(datagram.data)
    assert sent.top_via.transport == "TCP" and sent.top_via.branch == tx_id
    assert net.a.transactions.client[tx_id].transport is Transport.TCP
    # the answer comes back over TCP and matches the transaction
    net.b.receive(datagram.data, A, Transport.TCP, 0.0)
    incoming = net.b.next_event()
    assert isinstance(incoming, RequestReceived)
    net.b.send_response(make_response(incoming.request, 486, to_tag="b"), 0.1)
    for d in net.b.outgoing():
        assert d.transport is Transport.TCP
        net.a.receive(d.data, B, Transport.TCP, 0.1)
    assert statuses(list(iter(net.a.next_event, None))) == [486]


def test_request_of_1300_bytes_or_less_stays_on_udp() -> None:
    net = Net()
    small = big_request("OPTIONS", 900)
    net.a.send_request(small, B, Transport.UDP, 0.0)
    [datagram] = net.a.outgoing()
    assert len(datagram.data) <= 1300 and datagram.transport is Transport.UDP
    assert parse_message(datagram.data).top_via.transport == "UDP"


def test_size_rule_counts_the_exact_wire_size() -> None:
    # the limit is the serialized request with our Via, byte for byte
    for size in range(1180, 1330, 3):
        net = Net()
        net.a.send_request(big_request("OPTIONS", size), B, Transport.UDP, 0.0)
        [datagram] = net.a.outgoing()
        udp_size = len(datagram.data)  # UDP and TCP Vias are the same length here
        assert (datagram.transport is Transport.TCP) == (udp_size > 1300), udp_size


def test_large_request_without_tcp_fails_as_too_large_and_sends_nothing() -> None:
    endpoint = Endpoint(local={Transport.UDP: A}, ids=IdSource(5))
    tx_id = endpoint.send_request(big_request("INVITE", 3293), B, Transport.UDP, 0.0)
    assert endpoint.outgoing() == []
    assert endpoint.next_event() == TransportFailed(tx_id, too_large=True)
    assert tx_id not in endpoint.transactions.client


def test_responses_are_not_switched_to_tcp() -> None:
    # §18.2.2 routes responses; the §18.1.1 size rule is for requests
    net = Net()
    net.a.send_request(request("OPTIONS"), B, Transport.UDP, 0.0)
    [datagram] = net.a.outgoing()
    net.b.receive(datagram.data, A, Transport.UDP, 0.0)
    incoming = net.b.next_event()
    assert isinstance(incoming, RequestReceived)
    ok = make_response(incoming.request, 200, to_tag="b")
    ok.body = b"x" * 2000
    net.b.send_response(ok, 0.1)
    [answer] = net.b.outgoing()
    assert answer.transport is Transport.UDP and len(answer.data) > 1300


def test_large_request_whose_tcp_fails_is_reported_too_large() -> None:
    # §18.1.1 sent it by TCP; the peer takes no TCP (the connect failed): 513, not 408
    net = Net()
    big = net.a.send_request(big_request("INVITE", 3293), B, Transport.UDP, 0.0)
    small = net.a.send_request(request("OPTIONS"), B, Transport.TCP, 0.0)
    net.a.outgoing()
    net.a.transport_failed(B, Transport.TCP, 0.1)
    failed = list(iter(net.a.next_event, None))
    assert TransportFailed(big, too_large=True) in failed
    assert TransportFailed(small) in failed  # sent by TCP as asked: a plain failure
