"""INVITE server transaction: RFC 3261 §17.2.1 with the RFC 6026 Accepted state.

States PROCEEDING, COMPLETED, CONFIRMED, ACCEPTED, TERMINATED; Timers G, H, I, L.
Retransmitting a 2xx until the ACK arrives is the UA core's job
(§13.3.1.4, `sipstack/invite.py`), not this transaction's.
"""

from __future__ import annotations

import enum
from typing import Any

from ..message import Message, make_response
from ..serialize import serialize
from .base import (
    Action,
    Effect,
    Spec,
    Transaction,
    TxInput,
    as_response,
    ignore,
    report_transport_error,
    resend_last,
    rows,
)


class IstState(enum.Enum):
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Ist(Transaction[IstState]):
    __slots__ = ("to_tag",)
    to_tag: str | None  # To tag of the first response the TU sent

    def _init_own(self) -> None:
        self.to_tag = None

    def start(self, now: float) -> list[Effect]:
        """§17.2.1: "When a server transaction is constructed for a request, it
        enters the "Proceeding" state. The server transaction MUST generate a 100
        (Trying) response unless it knows that the TU will generate a provisional
        or final response within 200 ms".

        The endpoint calls this when it flushes: if the TU already answered while the
        request's event was being handled (a challenge, a 404, a 180), that answer is
        on its way and the 100 is left out; otherwise the 100 goes now."""
        out: list[Effect] = []
        if self.last is None and self.state is IstState.PROCEEDING:
            self.send(serialize(make_response(self.request, 100)), out)
        return out


def send_response(tx: Any, now: float, message: Message | None, out: list[Effect]) -> None:
    """Serialize once, keep the bytes for retransmission, transmit."""
    response = as_response(message)
    if isinstance(tx, Ist) and tx.to_tag is None:
        tx.to_tag = response.to.tag
    tx.send(serialize(response), out)


def _send_final(tx: Ist, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.2.1: "While in the "Proceeding" state, if the TU passes a response with
    # status code from 300 to 699 to the server transaction, the response MUST be
    # passed to the transport layer for transmission, and the state machine MUST
    # enter the "Completed" state. For unreliable transports, timer G is set to
    # fire in T1 seconds ... timer H MUST be set to fire in 64*T1 seconds for all
    # transports."
    send_response(tx, now, message, out)
    tx.start_retransmitting(TxInput.TIMER_G, tx.config.timer_g(tx.reliable), now, out)
    tx.arm(TxInput.TIMER_H, tx.config.timer_h(), now, out)


def _send_2xx(tx: Ist, now: float, message: Message | None, out: list[Effect]) -> None:
    # RFC 6026 §8.5: "If, while in the "Proceeding" state, the TU passes a 2xx
    # response to the server transaction, the server transaction MUST pass this
    # response to the transport layer for transmission. ... The server
    # transaction MUST then transition to the "Accepted" state." §8.7: "Timer L
    # ... set to fire in 64*T1 seconds" on entering Accepted.
    send_response(tx, now, message, out)
    tx.arm(TxInput.TIMER_L, tx.config.timer_l(), now, out)


def _retransmit_final(tx: Ist, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.2.1: "If timer G fires, the response is passed to the transport layer
    # once more for retransmission, and timer G is set to fire in MIN(2*T1, T2)
    # seconds."
    tx.retransmit(TxInput.TIMER_G, tx.config.double_capped(tx.interval), now, out)


def _confirm(tx: Ist, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.2.1: "If an ACK is received while the server transaction is in the
    # "Completed" state, the server transaction MUST transition to the
    # "Confirmed" state. As Timer G is ignored in this state, any retransmissions
    # of the response will cease." "When this state is entered, timer I is set to
    # fire in T4 seconds for unreliable transports, and zero seconds for reliable
    # transports."
    tx.arm(TxInput.TIMER_I, tx.config.timer_i(tx.reliable), now, out)


Pr, K, Cf, A, T = (
    IstState.PROCEEDING,
    IstState.COMPLETED,
    IstState.CONFIRMED,
    IstState.ACCEPTED,
    IstState.TERMINATED,
)
I = TxInput  # noqa: E741

_TRANSITIONS: dict[tuple[IstState, TxInput], tuple[Action[Ist], IstState]] = {
    # §17.2.1: "If a request retransmission is received while in the
    # "Proceeding" state, the most recent provisional response that was received
    # from the TU MUST be passed to the transport layer for retransmission."
    (Pr, I.REQUEST): (resend_last, Pr),
    # "The TU passes any number of provisional responses to the server
    # transaction. So long as the server transaction is in the "Proceeding"
    # state, each of these MUST be passed to the transport layer for transmission."
    (Pr, I.PROVISIONAL): (send_response, Pr),
    (Pr, I.SUCCESS): (_send_2xx, A),
    (Pr, I.FAILURE): (_send_final, K),
    # NOT IN RFC: an ACK before any final response is meaningless; absorb it.
    (Pr, I.ACK): (ignore, Pr),
    # §17.2.1: "Furthermore, while in the "Completed" state, if a request
    # retransmission is received, the server SHOULD pass the response to the
    # transport for retransmission."
    (K, I.REQUEST): (resend_last, K),
    (K, I.TIMER_G): (_retransmit_final, K),
    (K, I.ACK): (_confirm, Cf),
    # "If timer H fires while in the "Completed" state, it implies that the ACK was
    # never received. In this case, the server transaction MUST transition to the
    # "Terminated" state, and MUST indicate to the TU that a transaction failure
    # has occurred."  NOT IMPLEMENTED (the indication): the TU has finished with a
    # request it rejected; no event is raised.
    (K, I.TIMER_H): (ignore, T),
    # "The purpose of the "Confirmed" state is to absorb any additional ACK
    # messages that arrive, triggered from retransmissions of the final response."
    (Cf, I.ACK): (ignore, Cf),
    (Cf, I.REQUEST): (ignore, Cf),
    # "Once timer I fires, the server MUST transition to the "Terminated" state."
    (Cf, I.TIMER_I): (ignore, T),
    # RFC 6026 §8.7: "the server transaction MUST NOT retransmit the 2xx" on an
    # INVITE retransmission in Accepted: "absorb" ("INVITE -" in Figure 7).
    (A, I.REQUEST): (ignore, A),
    # RFC 6026 §8.7: "2xx from TU / send response" in Accepted.
    (A, I.SUCCESS): (send_response, A),
    # An ACK for the 2xx reaching the transaction (RFC 2543 peers reuse the
    # branch) is handled by the UA core; the transaction absorbs it.
    (A, I.ACK): (ignore, A),
    # RFC 6026 §8.7: "If Timer L fires while the INVITE server transaction is in
    # the "Accepted" state, the transaction MUST transition to the "Terminated"
    # state."
    (A, I.TIMER_L): (ignore, T),
    # §17.2.4: "the server transaction ... SHOULD inform the TU that a failure has
    # occurred, and SHOULD transition to the terminated state."
    **rows((Pr, K, A), [I.TRANSPORT_ERROR], report_transport_error, T),
    (Cf, I.TRANSPORT_ERROR): (ignore, T),
}

_KEEPS: dict[IstState, frozenset[TxInput]] = {
    Pr: frozenset(),
    K: frozenset({I.TIMER_G, I.TIMER_H}),
    Cf: frozenset({I.TIMER_I}),
    A: frozenset({I.TIMER_L}),
    T: frozenset(),
}

SPEC: Spec[IstState, Ist] = Spec("IST", _TRANSITIONS, _KEEPS, Pr, T)
Ist.spec = SPEC
TRANSITIONS = _TRANSITIONS
