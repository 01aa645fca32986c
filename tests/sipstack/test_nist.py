"""Non-INVITE server transaction (RFC 3261 §17.2.2): table spec and Timer J.

Requirements covered:
- every (state, input) pair, over UDP and TCP, does what SPEC says, or raises
  LocalProtocolError and leaves the transaction TERMINATED;
- request retransmissions: discarded in Trying, answered with the last
  provisional in Proceeding and the final in Completed (same bytes);
- Timer J: 64*T1 on UDP, immediate on TCP.
"""

from __future__ import annotations

from transaction_support import check_pair, every_pair, message_for, request, sent

from sipstack.message import Request, make_response
from sipstack.timers import TimerConfig
from sipstack.transaction.base import TxInput
from sipstack.transaction.nist import TRANSITIONS, Nist, NistState
from sipstack.transport import Transport

I = TxInput  # noqa: E741
S = NistState
CONFIG = TimerConfig()

SPEC: dict[tuple[NistState, TxInput], tuple[NistState, NistState, frozenset[str]]] = {
    (S.TRYING, I.REQUEST): (S.TRYING, S.TRYING, frozenset()),
    (S.TRYING, I.PROVISIONAL): (S.PROCEEDING, S.PROCEEDING, frozenset({"send"})),
    (S.TRYING, I.SUCCESS): (S.COMPLETED, S.TERMINATED, frozenset({"send"})),
    (S.TRYING, I.FAILURE): (S.COMPLETED, S.TERMINATED, frozenset({"send"})),
    (S.TRYING, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
    (S.PROCEEDING, I.PROVISIONAL): (S.PROCEEDING, S.PROCEEDING, frozenset({"send"})),
    (S.PROCEEDING, I.REQUEST): (S.PROCEEDING, S.PROCEEDING, frozenset({"send"})),
    (S.PROCEEDING, I.SUCCESS): (S.COMPLETED, S.TERMINATED, frozenset({"send"})),
    (S.PROCEEDING, I.FAILURE): (S.COMPLETED, S.TERMINATED, frozenset({"send"})),
    (S.PROCEEDING, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset({"transport"})),
    (S.COMPLETED, I.REQUEST): (S.COMPLETED, S.COMPLETED, frozenset({"send"})),
    (S.COMPLETED, I.SUCCESS): (S.COMPLETED, S.COMPLETED, frozenset()),
    (S.COMPLETED, I.FAILURE): (S.COMPLETED, S.COMPLETED, frozenset()),
    (S.COMPLETED, I.TIMER_J): (S.TERMINATED, S.TERMINATED, frozenset()),
    (S.COMPLETED, I.TRANSPORT_ERROR): (S.TERMINATED, S.TERMINATED, frozenset()),
}

STATUS = {I.PROVISIONAL: 183, I.SUCCESS: 200, I.FAILURE: 403}


def register() -> Request:
    via = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnist1;rport=5060;received=10.0.0.1"
    return request(
        "REGISTER", via, call_id="call-nist", uri="sip:example.com", to="<sip:alice@example.com>"
    )


def make_nist(transport: Transport = Transport.UDP) -> Nist:
    return Nist("id", ("k",), register(), ("10.0.0.1", 5060), transport, CONFIG)


def test_spec_documents_the_whole_table() -> None:
    assert set(SPEC) == set(TRANSITIONS)


@every_pair(S)
def test_every_state_and_input(state: NistState, inp: TxInput, transport: Transport) -> None:
    tx = make_nist(transport)
    tx.state = state
    tx.last = b"last response"
    check_pair(tx, inp, SPEC.get((state, inp)), message_for(inp, tx, STATUS, "s1"))


def test_retransmissions_get_the_same_bytes() -> None:
    tx = make_nist()
    assert tx.step(I.REQUEST, 0.1, tx.request) == []
    provisional = sent(tx.step(I.PROVISIONAL, 0.2, make_response(tx.request, 183, to_tag="s")))
    assert sent(tx.step(I.REQUEST, 0.3, tx.request)) == provisional
    final = sent(tx.step(I.SUCCESS, 0.4, make_response(tx.request, 200, to_tag="s")))
    assert sent(tx.step(I.REQUEST, 0.5, tx.request)) == final
    # "Any other final responses passed by the TU ... MUST be discarded"
    assert tx.step(I.FAILURE, 0.6, make_response(tx.request, 500)) == []
    assert sent(tx.step(I.REQUEST, 0.7, tx.request)) == final


def test_timer_j_is_64_t1_on_udp() -> None:
    tx = make_nist()
    tx.step(I.SUCCESS, 1.0, make_response(tx.request, 200, to_tag="s"))
    assert tx.timers == {I.TIMER_J: 33.0}


def test_timer_j_is_zero_on_tcp() -> None:
    tx = make_nist(Transport.TCP)
    tx.step(I.SUCCESS, 1.0, make_response(tx.request, 200, to_tag="s"))
    assert tx.state is S.TERMINATED
