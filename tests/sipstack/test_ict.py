"""INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §8.4): table spec and timers.

Requirements covered:
- every (state, input) pair, over UDP and TCP, does what SPEC says, or raises
  LocalProtocolError and leaves the transaction TERMINATED;
- Timer A: T1, doubling without a cap, UDP only; Timer B: 64*T1;
- Timer D: 32 s on UDP, zero (immediate) on TCP;
- the ACK for a non-2xx final is built per §17.1.1.3.
"""

from __future__ import annotations

from transaction_support import check_pair, every_pair, kinds, message_for, request

from sipstack.message import Request, make_response
from sipstack.parse import parse_message
from sipstack.timers import TimerConfig
from sipstack.transaction.base import Transmit, TxInput
from sipstack.transaction.ict import TRANSITIONS, Ict, IctState, build_ack
from sipstack.transport import Transport

I = TxInput  # noqa: E741
S = IctState
CONFIG = TimerConfig()

# (state, input) -> (next state over UDP, next state over TCP, effects)
SPEC: dict[tuple[IctState, TxInput], tuple[IctState, IctState, frozenset[str]]] = {
    (S.CALLING, I.TIMER_A): (S.CALLING, S.CALLING, frozenset({"send"})),
    (S.CALLING, I.TIMER_B): (S.TERMINATED, S.TERMINATED, frozenset({"timeout"})),
    (S.CALLING, I.PROVISIONAL): (S.PROCEEDING, S.PROCEEDING, frozenset({"up"})),
    (S.CALLING, I.SUCCESS): (S.ACCEPTED, S.ACCEPTED, frozenset({"up"})),
    (S.CALLING, I.FAILURE): (S.COMPLETED, S.TERMINATED, frozenset({"up", "send"})),
    (S.CALLING, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
    (S.PROCEEDING, I.PROVISIONAL): (S.PROCEEDING, S.PROCEEDING, frozenset({"up"})),
    (S.PROCEEDING, I.SUCCESS): (S.ACCEPTED, S.ACCEPTED, frozenset({"up"})),
    (S.PROCEEDING, I.FAILURE): (S.COMPLETED, S.TERMINATED, frozenset({"up", "send"})),
    (S.PROCEEDING, I.TIMER_B): (S.TERMINATED, S.TERMINATED, frozenset({"timeout"})),
    (S.PROCEEDING, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
    (S.COMPLETED, I.FAILURE): (S.COMPLETED, S.COMPLETED, frozenset({"send"})),
    (S.COMPLETED, I.PROVISIONAL): (S.COMPLETED, S.COMPLETED, frozenset()),
    (S.COMPLETED, I.SUCCESS): (S.COMPLETED, S.COMPLETED, frozenset()),
    (S.COMPLETED, I.TIMER_D): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.COMPLETED, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.ACCEPTED, I.SUCCESS): (S.ACCEPTED, S.ACCEPTED, frozenset({"up"})),
    (S.ACCEPTED, I.PROVISIONAL): (S.ACCEPTED, S.ACCEPTED, frozenset()),
    (S.ACCEPTED, I.FAILURE): (S.ACCEPTED, S.ACCEPTED, frozenset()),
    (S.ACCEPTED, I.TIMER_M): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.ACCEPTED, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset()),
}

STATUS = {I.PROVISIONAL: 180, I.SUCCESS: 200, I.FAILURE: 486}


def invite() -> Request:
    return request(
        "INVITE",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKict1;rport",
        call_id="call-ict",
        cseq=7,
        extra=[
            ("max-forwards", "70"),
            ("route", "<sip:proxy.example.com;lr>"),
            ("contact", "<sip:alice@10.0.0.1>"),
        ],
    )


def make_ict(transport: Transport = Transport.UDP) -> Ict:
    return Ict("z9hG4bKict1", invite(), ("10.0.0.2", 5060), transport, CONFIG)


def in_state(state: IctState, transport: Transport) -> Ict:
    tx = make_ict(transport)
    tx.start(0.0)
    tx.state = state
    if state is S.COMPLETED:
        tx.ack = tx.last = b"ACK"
    return tx


def test_spec_documents_the_whole_table() -> None:
    assert set(SPEC) == set(TRANSITIONS)


@every_pair(S)
def test_every_state_and_input(state: IctState, inp: TxInput, transport: Transport) -> None:
    tx = in_state(state, transport)
    check_pair(tx, inp, SPEC.get((state, inp)), message_for(inp, tx, STATUS, "b1"))


def test_start_sends_and_arms_a_and_b_on_udp() -> None:
    tx = make_ict()
    out = tx.start(0.0)
    assert kinds(out) == {"send"}
    assert tx.timers == {I.TIMER_A: 0.5, I.TIMER_B: 32.0}
    assert parse_message(tx.last or b"").method == "INVITE"  # type: ignore[union-attr]


def test_start_on_tcp_arms_only_b() -> None:
    tx = make_ict(Transport.TCP)
    tx.start(0.0)
    assert tx.timers == {I.TIMER_B: 32.0}


def test_timer_a_doubles_without_cap_and_resends_same_bytes() -> None:
    tx = make_ict()
    first = tx.start(0.0)
    sent = [e.data for e in first if isinstance(e, Transmit)]
    now, schedule = 0.0, []
    for _ in range(6):
        due = tx.timers[I.TIMER_A]
        schedule.append(due - now)
        now = due
        del tx.timers[I.TIMER_A]
        out = tx.step(I.TIMER_A, now)
        assert [e.data for e in out if isinstance(e, Transmit)] == sent
    assert schedule == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert tx.timers[I.TIMER_B] == 32.0


def test_provisional_stops_a_and_b() -> None:
    tx = make_ict()
    tx.start(0.0)
    tx.step(I.PROVISIONAL, 0.1, make_response(tx.request, 180, to_tag="b1"))
    assert tx.timers == {}


def test_failure_arms_d_32s_on_udp() -> None:
    tx = make_ict()
    tx.start(0.0)
    tx.step(I.FAILURE, 1.0, make_response(tx.request, 486, to_tag="b1"))
    assert tx.timers == {I.TIMER_D: 33.0}


def test_success_arms_m() -> None:
    tx = make_ict()
    tx.start(0.0)
    tx.step(I.SUCCESS, 1.0, make_response(tx.request, 200, to_tag="b1"))
    assert tx.state is S.ACCEPTED
    assert tx.timers == {I.TIMER_M: 33.0}


def test_ack_for_non_2xx_follows_17_1_1_3() -> None:
    original = invite()
    response = make_response(original, 486, to_tag="b1")
    ack = build_ack(original, response)
    assert ack.method == "ACK"
    assert str(ack.uri) == "sip:bob@example.com"
    assert ack.get_all("via") == ["SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKict1;rport"]
    assert ack.to.tag == "b1"
    assert ack.get("from") == original.get("from")
    assert ack.call_id == original.call_id
    assert str(ack.cseq) == "7 ACK"
    assert ack.get("route") == "<sip:proxy.example.com;lr>"
    assert ack.get("contact") is None


def test_final_retransmission_resends_the_same_ack() -> None:
    tx = make_ict()
    tx.start(0.0)
    response = make_response(tx.request, 486, to_tag="b1")
    first = [e.data for e in tx.step(I.FAILURE, 1.0, response) if isinstance(e, Transmit)]
    again = [e.data for e in tx.step(I.FAILURE, 2.0, response) if isinstance(e, Transmit)]
    assert first == again and first[0].startswith(b"ACK ")
