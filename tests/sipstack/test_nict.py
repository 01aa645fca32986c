"""Non-INVITE client transaction (RFC 3261 §17.1.2): table spec and timers.

Requirements covered:
- every (state, input) pair, over UDP and TCP, does what SPEC says, or raises
  LocalProtocolError and leaves the transaction TERMINATED;
- Timer E: 0.5, 1, 2, 4, 4, ... (T1 doubling, capped at T2) in Trying; T2 in
  Proceeding; Timer F 64*T1; Timer K T4 on UDP, immediate on TCP.
"""

from __future__ import annotations

from transaction_support import check_pair, every_pair, kinds, message_for, request

from sipstack.message import Request, make_response
from sipstack.timers import TimerConfig
from sipstack.transaction.base import TxInput
from sipstack.transaction.nict import TRANSITIONS, Nict, NictState
from sipstack.transport import Transport

I = TxInput  # noqa: E741
S = NictState
CONFIG = TimerConfig()

SPEC: dict[tuple[NictState, TxInput], tuple[NictState, NictState, frozenset[str]]] = {
    (S.TRYING, I.TIMER_E): (S.TRYING, S.TRYING, frozenset({"send"})),
    (S.TRYING, I.TIMER_F): (S.TERMINATED, S.TERMINATED, frozenset({"timeout"})),
    (S.TRYING, I.PROVISIONAL): (S.PROCEEDING, S.PROCEEDING, frozenset({"up"})),
    (S.TRYING, I.SUCCESS): (S.COMPLETED, S.TERMINATED, frozenset({"up"})),
    (S.TRYING, I.FAILURE): (S.COMPLETED, S.TERMINATED, frozenset({"up"})),
    (S.TRYING, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
    (S.PROCEEDING, I.TIMER_E): (S.PROCEEDING, S.PROCEEDING, frozenset({"send"})),
    (S.PROCEEDING, I.TIMER_F): (S.TERMINATED, S.TERMINATED, frozenset({"timeout"})),
    (S.PROCEEDING, I.PROVISIONAL): (S.PROCEEDING, S.PROCEEDING, frozenset({"up"})),
    (S.PROCEEDING, I.SUCCESS): (S.COMPLETED, S.TERMINATED, frozenset({"up"})),
    (S.PROCEEDING, I.FAILURE): (S.COMPLETED, S.TERMINATED, frozenset({"up"})),
    (S.PROCEEDING, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
    (S.COMPLETED, I.PROVISIONAL): (S.COMPLETED, S.COMPLETED, frozenset()),
    (S.COMPLETED, I.SUCCESS): (S.COMPLETED, S.COMPLETED, frozenset()),
    (S.COMPLETED, I.FAILURE): (S.COMPLETED, S.COMPLETED, frozenset()),
    (S.COMPLETED, I.TIMER_K): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.COMPLETED, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset()),
}

STATUS = {I.PROVISIONAL: 100, I.SUCCESS: 200, I.FAILURE: 404}


def options() -> Request:
    via = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnict1;rport"
    return request("OPTIONS", via, call_id="call-nict")


def make_nict(transport: Transport = Transport.UDP) -> Nict:
    return Nict("z9hG4bKnict1", options(), ("10.0.0.2", 5060), transport, CONFIG)


def test_spec_documents_the_whole_table() -> None:
    assert set(SPEC) == set(TRANSITIONS)


@every_pair(S)
def test_every_state_and_input(state: NictState, inp: TxInput, transport: Transport) -> None:
    tx = make_nict(transport)
    tx.start(0.0)
    tx.state = state
    tx.interval = CONFIG.t1
    check_pair(tx, inp, SPEC.get((state, inp)), message_for(inp, tx, STATUS, "b1"))


def fire(tx: Nict, timer: TxInput) -> tuple[float, list[object]]:
    due = tx.timers.pop(timer)
    return due, list(tx.step(timer, due))


def test_timer_e_schedule_in_trying() -> None:
    tx = make_nict()
    tx.start(0.0)
    now, gaps = 0.0, []
    for _ in range(7):
        due, out = fire(tx, I.TIMER_E)
        gaps.append(due - now)
        now = due
        assert kinds(out) == {"send"}
    assert gaps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert tx.timers[I.TIMER_F] == 32.0


def test_timer_e_is_t2_in_proceeding() -> None:
    tx = make_nict()
    tx.start(0.0)
    tx.step(I.PROVISIONAL, 0.2, make_response(tx.request, 100))
    due, _ = fire(tx, I.TIMER_E)
    assert due == 0.5
    assert tx.timers[I.TIMER_E] == 0.5 + 4.0


def test_timer_f_times_out() -> None:
    tx = make_nict()
    tx.start(0.0)
    due, out = fire(tx, I.TIMER_F)
    assert due == 32.0 and kinds(out) == {"timeout"}
    assert tx.state is S.TERMINATED and tx.timers == {}


def test_final_arms_k_t4_on_udp_and_stops_e_f() -> None:
    tx = make_nict()
    tx.start(0.0)
    tx.step(I.SUCCESS, 1.0, make_response(tx.request, 200))
    assert tx.timers == {I.TIMER_K: 6.0}


def test_tcp_has_no_timer_e_and_k_is_immediate() -> None:
    tx = make_nict(Transport.TCP)
    tx.start(0.0)
    assert tx.timers == {I.TIMER_F: 32.0}
    tx.step(I.FAILURE, 1.0, make_response(tx.request, 404))
    assert tx.state is S.TERMINATED
