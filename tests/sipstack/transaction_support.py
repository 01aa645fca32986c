"""What the four transaction FSM tests (test_ict, test_nict, test_ist, test_nist) share.

Each of those files writes its FSM's table out again as a SPEC of rows, one per
(state, input): the next state over UDP, the next state over TCP, and the kinds of
effect ("send", "up", "timeout", "transport"). `every_pair` runs a test for each live
state, each input and both transports; `check_pair` holds the test to its row. The
tests import this as a top-level module (see conftest.py in this folder).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import pytest

from sipstack.errors import LocalProtocolError
from sipstack.message import Message, Request, make_response
from sipstack.transaction.base import (
    Armed,
    PassUp,
    TimedOut,
    Transaction,
    Transmit,
    TransportError,
    TxInput,
)
from sipstack.transport import Transport
from sipstack.uri import parse_uri

Row = tuple[Any, Any, frozenset[str]]  # (next state on UDP, next state on TCP, effects)
F = TypeVar("F", bound=Callable[..., None])

_KINDS: dict[type, str] = {
    Transmit: "send",
    PassUp: "up",
    TimedOut: "timeout",
    TransportError: "transport",
}


def request(
    method: str,
    via: str,
    *,
    call_id: str,
    uri: str = "sip:bob@example.com",
    to: str = "",
    cseq: int = 1,
    extra: Sequence[tuple[str, str]] = (),
) -> Request:
    """A request from alice with the headers every transaction needs, then `extra`."""
    return Request(
        method,
        parse_uri(uri),
        [
            ("via", via),
            ("from", "<sip:alice@example.com>;tag=a1"),
            ("to", to or f"<{uri}>"),
            ("call-id", call_id),
            ("cseq", f"{cseq} {method}"),
            *extra,
        ],
    )


def kinds(effects: Sequence[object]) -> frozenset[str]:
    """The kinds of effect in a step's output; Armed is left out, the timers say it."""
    return frozenset(_KINDS[type(e)] for e in effects if type(e) is not Armed)


def sent(effects: Sequence[object]) -> list[bytes]:
    return [e.data for e in effects if isinstance(e, Transmit)]


def message_for(
    inp: TxInput, tx: Transaction[Any], statuses: Mapping[TxInput, int], to_tag: str
) -> Message | None:
    """The message that comes with `inp`: the request again, an ACK, or a response."""
    if inp is TxInput.REQUEST:
        return tx.request
    if inp is TxInput.ACK:
        return Request("ACK", tx.request.uri, list(tx.request.headers))
    status = statuses.get(inp)
    return make_response(tx.request, status, to_tag=to_tag) if status is not None else None


def every_pair(states: type[enum.Enum]) -> Callable[[F], F]:
    """Parametrize a test by (state, inp) over the live states and by transport."""
    live = [s for s in states if s.name != "TERMINATED"]
    pairs = pytest.mark.parametrize(
        ("state", "inp"),
        list(itertools.product(live, TxInput)),
        ids=lambda v: getattr(v, "name", v),
    )
    transports = pytest.mark.parametrize(
        "transport", [Transport.UDP, Transport.TCP], ids=lambda t: t.value
    )

    def decorate(test: F) -> F:
        return transports(pairs(test))  # type: ignore[no-any-return]

    return decorate


def check_pair(
    tx: Transaction[Any], inp: TxInput, row: Row | None, message: Message | None
) -> None:
    """One step from the state `tx` is in: what its row says, or, with no row, a
    LocalProtocolError that leaves it TERMINATED. A terminated transaction keeps no
    timer."""
    if row is None:
        with pytest.raises(LocalProtocolError):
            tx.step(inp, 1.0, message)
        assert tx.state.name == "TERMINATED"
    else:
        udp_next, tcp_next, effects = row
        out = tx.step(inp, 1.0, message)
        assert tx.state is (tcp_next if tx.reliable else udp_next)
        assert kinds(out) == effects
    if tx.state.name == "TERMINATED":
        assert tx.timers == {}
