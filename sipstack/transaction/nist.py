"""Non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8).

States TRYING, PROCEEDING, COMPLETED, TERMINATED; Timer J.
"""

from __future__ import annotations

import enum

from ..message import Message
from .base import (
    Action,
    Effect,
    Spec,
    Transaction,
    TxInput,
    ignore,
    report_transport_error,
    resend_last,
    rows,
)
from .ist import send_response


class NistState(enum.Enum):
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class Nist(Transaction[NistState]):
    __slots__ = ()


def _send_final(tx: Nist, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.2.2: "If the TU passes a final response (status codes 200-699) to the
    # server while in the "Proceeding" state, the transaction MUST enter the
    # "Completed" state, and the response MUST be passed to the transport layer
    # for transmission." "When the server transaction enters the "Completed"
    # state, it MUST set Timer J to fire in 64*T1 seconds for unreliable
    # transports, and zero seconds for reliable transports."
    send_response(tx, now, message, out)
    tx.arm(TxInput.TIMER_J, tx.config.timer_j(tx.reliable), now, out)


Tr, P, K, T = NistState.TRYING, NistState.PROCEEDING, NistState.COMPLETED, NistState.TERMINATED
I = TxInput  # noqa: E741

_TRANSITIONS: dict[tuple[NistState, TxInput], tuple[Action[Nist], NistState]] = {
    # §17.2.2: "Once in the "Trying" state, any further request retransmissions
    # are discarded."
    (Tr, I.REQUEST): (ignore, Tr),
    # "While in the "Trying" state, if the TU passes a provisional response to the
    # server transaction, the server transaction MUST enter the "Proceeding"
    # state. The response MUST be passed to the transport layer for transmission."
    (Tr, I.PROVISIONAL): (send_response, P),
    **rows([Tr], [I.SUCCESS, I.FAILURE], _send_final, K),
    # "Any further provisional responses that are received from the TU while in
    # the "Proceeding" state MUST be passed to the transport layer for
    # transmission. If a retransmission of the request is received while in the
    # "Proceeding" state, the most recently sent provisional response MUST be
    # passed to the transport layer for retransmission."
    (P, I.PROVISIONAL): (send_response, P),
    (P, I.REQUEST): (resend_last, P),
    **rows([P], [I.SUCCESS, I.FAILURE], _send_final, K),
    # "While in the "Completed" state, the server transaction MUST pass the final
    # response to the transport layer for retransmission whenever a retransmission
    # of the request is received. Any other final responses passed by the TU to
    # the server transaction MUST be discarded while in the "Completed" state."
    (K, I.REQUEST): (resend_last, K),
    **rows([K], [I.SUCCESS, I.FAILURE], ignore, K),
    # "The server transaction remains in this state until Timer J fires, at which
    # point it MUST transition to the "Terminated" state."
    (K, I.TIMER_J): (ignore, T),
    # §17.2.4: inform the TU of a transport failure and terminate.
    **rows((Tr, P), [I.TRANSPORT_ERROR], report_transport_error, T),
    (K, I.TRANSPORT_ERROR): (ignore, T),
}

_KEEPS: dict[NistState, frozenset[TxInput]] = {
    Tr: frozenset(),
    P: frozenset(),
    K: frozenset({I.TIMER_J}),
    T: frozenset(),
}

SPEC: Spec[NistState, Nist] = Spec("NIST", _TRANSITIONS, _KEEPS, Tr, T)
Nist.spec = SPEC
TRANSITIONS = _TRANSITIONS
