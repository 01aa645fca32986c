"""All-pairs property of the four transaction FSMs (the h2 state-machine invariant).

For any sequence of inputs, each step either follows the FSM's `_TRANSITIONS`
table (over reliable transports a zero-duration timer may then carry it on to
TERMINATED within the same step) or raises LocalProtocolError and leaves the
transaction TERMINATED with no timers. Timers armed are always in the future
and belong to the state the transaction is in.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sipstack.errors import LocalProtocolError
from sipstack.message import Message, Request, make_response
from sipstack.timers import TimerConfig
from sipstack.transaction import ict, ist, nict, nist
from sipstack.transaction.base import Transaction, TxInput
from sipstack.transport import Transport
from sipstack.uri import parse_uri

CONFIG = TimerConfig()
STATUS = {TxInput.PROVISIONAL: 180, TxInput.SUCCESS: 200, TxInput.FAILURE: 486}


def request(method: str) -> Request:
    return Request(
        method,
        parse_uri("sip:bob@example.com"),
        [
            ("via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKprop;rport"),
            ("from", "<sip:alice@example.com>;tag=a1"),
            ("to", "<sip:bob@example.com>"),
            ("call-id", "call-prop"),
            ("cseq", f"1 {method}"),
        ],
    )


def build(kind: str, transport: Transport) -> tuple[Transaction[Any], Any]:
    dest = ("10.0.0.2", 5060)
    if kind == "ict":
        tx: Transaction[Any] = ict.Ict("b", request("INVITE"), dest, transport, CONFIG)
        tx.start(0.0)  # type: ignore[attr-defined]
        return tx, ict
    if kind == "nict":
        tx = nict.Nict("b", request("OPTIONS"), dest, transport, CONFIG)
        tx.start(0.0)
        return tx, nict
    if kind == "ist":
        tx = ist.Ist("b", ("k",), request("INVITE"), dest, transport, CONFIG)
        tx.start(0.0)
        return tx, ist
    return nist.Nist("b", ("k",), request("OPTIONS"), dest, transport, CONFIG), nist


def message_for(inp: TxInput, tx: Transaction[Any]) -> Message | None:
    if inp is TxInput.REQUEST:
        return tx.request
    if inp is TxInput.ACK:
        return Request("ACK", tx.request.uri, list(tx.request.headers))
    status = STATUS.get(inp)
    return make_response(tx.request, status, to_tag="t") if status is not None else None


@given(
    kind=st.sampled_from(["ict", "nict", "ist", "nist"]),
    reliable=st.booleans(),
    inputs=st.lists(st.sampled_from(list(TxInput)), max_size=12),
)
def test_every_step_follows_the_table_or_raises_and_terminates(
    kind: str, reliable: bool, inputs: list[TxInput]
) -> None:
    transport = Transport.TCP if reliable else Transport.UDP
    tx, module = build(kind, transport)
    table = module.TRANSITIONS
    keeps = module._KEEPS
    now = 0.0
    for inp in inputs:
        if tx.terminated:
            break
        # A timer input means that timer fired at its deadline; other inputs arrive a
        # moment later, before any armed timer is due.
        now = max(now, tx.timers[inp]) if inp in tx.timers else now + 0.001
        armed = dict(tx.timers)
        before = tx.state
        entry = table.get((before, inp))
        if entry is None:
            try:
                tx.step(inp, now, message_for(inp, tx))
            except LocalProtocolError:
                pass
            else:
                raise AssertionError(f"{kind}: {before.name} x {inp.name} did not raise")
            assert tx.terminated and tx.timers == {}
            break
        tx.timers.pop(inp, None)  # a timer input means that timer fired
        tx.step(inp, now, message_for(inp, tx))
        expected = entry[1]
        if reliable:
            assert tx.state in (expected, module.SPEC.terminated)
        else:
            assert tx.state is expected
        assert set(tx.timers) <= set(keeps[tx.state])
        # every timer armed by this step lies in the future
        assert all(when > now or armed.get(k) == when for k, when in tx.timers.items())
    if tx.terminated:
        assert tx.timers == {}
