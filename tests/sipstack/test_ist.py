"""INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §8.5-8.7): table spec, timers.

Requirements covered:
- every (state, input) pair, over UDP and TCP, does what SPEC says, or raises
  LocalProtocolError and leaves the transaction TERMINATED;
- 100 Trying at once; INVITE retransmission resends the last provisional;
- Timer G 0.5, 1, 2, 4, 4 (UDP only), Timer H 64*T1, Timer I T4 / immediate,
  Timer L 64*T1 after a 2xx (Accepted absorbs INVITE retransmissions).
"""

from __future__ import annotations

import pytest
from transaction_support import check_pair, every_pair, message_for, request, sent

from sipstack.errors import LocalProtocolError
from sipstack.message import Request, make_response
from sipstack.parse import parse_message
from sipstack.timers import TimerConfig
from sipstack.transaction.base import TxInput
from sipstack.transaction.ist import TRANSITIONS, Ist, IstState
from sipstack.transport import Transport

I = TxInput  # noqa: E741
S = IstState
CONFIG = TimerConfig()

SPEC: dict[tuple[IstState, TxInput], tuple[IstState, IstState, frozenset[str]]] = {
    (S.PROCEEDING, I.REQUEST): (S.PROCEEDING, S.PROCEEDING, frozenset({"send"})),
    (S.PROCEEDING, I.PROVISIONAL): (S.PROCEEDING, S.PROCEEDING, frozenset({"send"})),
    (S.PROCEEDING, I.SUCCESS): (S.ACCEPTED, S.ACCEPTED, frozenset({"send"})),
    (S.PROCEEDING, I.FAILURE): (S.COMPLETED, S.COMPLETED, frozenset({"send"})),
    (S.PROCEEDING, I.ACK): (S.PROCEEDING, S.PROCEEDING, frozenset()),
    (S.PROCEEDING, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
    (S.COMPLETED, I.REQUEST): (S.COMPLETED, S.COMPLETED, frozenset({"send"})),
    (S.COMPLETED, I.TIMER_G): (S.COMPLETED, S.COMPLETED, frozenset({"send"})),
    (S.COMPLETED, I.ACK): (S.CONFIRMED, S.TERMINATED, frozenset()),
    (S.COMPLETED, I.TIMER_H): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.COMPLETED, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
    (S.CONFIRMED, I.ACK): (S.CONFIRMED, S.CONFIRMED, frozenset()),
    (S.CONFIRMED, I.REQUEST): (S.CONFIRMED, S.CONFIRMED, frozenset()),
    (S.CONFIRMED, I.TIMER_I): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.CONFIRMED, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.ACCEPTED, I.REQUEST): (S.ACCEPTED, S.ACCEPTED, frozenset()),
    (S.ACCEPTED, I.SUCCESS): (S.ACCEPTED, S.ACCEPTED, frozenset({"send"})),
    (S.ACCEPTED, I.ACK): (S.ACCEPTED, S.ACCEPTED, frozenset()),
    (S.ACCEPTED, I.TIMER_L): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.ACCEPTED, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
}

STATUS = {I.PROVISIONAL: 180, I.SUCCESS: 200, I.FAILURE: 486}


def invite() -> Request:
    via = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKist1;rport=5060;received=10.0.0.1"
    return request("INVITE", via, call_id="call-ist", extra=[("timestamp", "54")])


def make_ist(transport: Transport = Transport.UDP) -> Ist:
    return Ist("id", ("k",), invite(), ("10.0.0.1", 5060), transport, CONFIG)


def test_spec_documents_the_whole_table() -> None:
    assert set(SPEC) == set(TRANSITIONS)


@every_pair(S)
def test_every_state_and_input(state: IstState, inp: TxInput, transport: Transport) -> None:
    tx = make_ist(transport)
    tx.start(0.0)
    tx.state = state
    tx.interval = CONFIG.t1
    check_pair(tx, inp, SPEC.get((state, inp)), message_for(inp, tx, STATUS, "s1"))


def test_start_sends_100_trying_with_timestamp() -> None:
    tx = make_ist()
    (trying,) = sent(tx.start(0.0))
    response = parse_message(trying)
    assert response.status == 100  # type: ignore[union-attr]
    assert response.get("timestamp") == "54"
    assert response.to.tag is None
    assert sent(tx.step(I.REQUEST, 0.1, tx.request)) == [trying]


def test_retransmission_gets_latest_provisional() -> None:
    tx = make_ist()
    tx.start(0.0)
    ringing = sent(tx.step(I.PROVISIONAL, 0.1, make_response(tx.request, 180, to_tag="s")))
    assert sent(tx.step(I.REQUEST, 0.2, tx.request)) == ringing
    assert tx.to_tag == "s"


def test_timer_g_schedule_and_h() -> None:
    tx = make_ist()
    tx.start(0.0)
    final = sent(tx.step(I.FAILURE, 0.0, make_response(tx.request, 486, to_tag="s")))
    assert tx.timers == {I.TIMER_G: 0.5, I.TIMER_H: 32.0}
    now, gaps = 0.0, []
    for _ in range(6):
        due = tx.timers.pop(I.TIMER_G)
        gaps.append(due - now)
        now = due
        assert sent(tx.step(I.TIMER_G, due)) == final
    assert gaps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    tx.timers.pop(I.TIMER_H)
    tx.step(I.TIMER_H, 32.0)
    assert tx.state is S.TERMINATED


def test_ack_stops_g_and_h_and_arms_i() -> None:
    tx = make_ist()
    tx.start(0.0)
    tx.step(I.FAILURE, 0.0, make_response(tx.request, 486, to_tag="s"))
    tx.step(I.ACK, 1.0, message_for(I.ACK, tx, STATUS, "s1"))
    assert tx.state is S.CONFIRMED
    assert tx.timers == {I.TIMER_I: 6.0}


def test_tcp_has_no_timer_g() -> None:
    tx = make_ist(Transport.TCP)
    tx.start(0.0)
    tx.step(I.FAILURE, 0.0, make_response(tx.request, 486, to_tag="s"))
    assert tx.timers == {I.TIMER_H: 32.0}


def test_2xx_enters_accepted_with_timer_l() -> None:
    tx = make_ist()
    tx.start(0.0)
    tx.step(I.SUCCESS, 2.0, make_response(tx.request, 200, to_tag="s"))
    assert tx.state is S.ACCEPTED
    assert tx.timers == {I.TIMER_L: 34.0}
    # RFC 6026: INVITE retransmissions in Accepted are absorbed, not answered
    assert tx.step(I.REQUEST, 3.0, tx.request) == []


def test_final_after_final_is_a_local_protocol_error() -> None:
    tx = make_ist()
    tx.start(0.0)
    tx.step(I.FAILURE, 0.0, make_response(tx.request, 486, to_tag="s"))
    with pytest.raises(LocalProtocolError):
        tx.step(I.SUCCESS, 0.1, make_response(tx.request, 200, to_tag="s"))
    assert tx.state is S.TERMINATED
