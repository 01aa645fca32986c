"""Non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6).

States TRYING, PROCEEDING, COMPLETED, TERMINATED; Timers E, F, K.
"""

from __future__ import annotations

import enum

from ..message import Message
from .base import (
    RESPONSE_INPUTS,
    Action,
    ClientTransaction,
    Effect,
    Spec,
    TxInput,
    ignore,
    pass_up,
    report_timeout,
    report_transport_error,
    rows,
)


class NictState(enum.Enum):
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class Nict(ClientTransaction[NictState]):
    __slots__ = ()

    def start(self, now: float) -> list[Effect]:
        """§17.1.2.2: "The "Trying" state is entered when the TU initiates a new
        client transaction with a request. When entering this state, the client
        transaction SHOULD set timer F to fire in 64*T1 seconds. The request MUST
        be passed to the transport layer for transmission. If an unreliable
        transport is in use, the client transaction MUST set timer E to fire in T1
        seconds.\""""
        return self.send_request(
            now,
            retransmit=TxInput.TIMER_E,
            interval=self.config.timer_e(self.reliable),
            timeout=TxInput.TIMER_F,
            after=self.config.timer_f(),
        )


def _retransmit_trying(tx: Nict, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.1.2.2: "If timer E fires while still in this state, the timer is reset,
    # but this time with a value of MIN(2*T1, T2). When the timer fires again, it
    # is reset to a MIN(4*T1, T2). ... Retransmissions continue".
    tx.retransmit(TxInput.TIMER_E, tx.config.double_capped(tx.interval), now, out)


def _retransmit_proceeding(
    tx: Nict, now: float, message: Message | None, out: list[Effect]
) -> None:
    # §17.1.2.2: "If Timer E fires while in the "Proceeding" state, the request
    # MUST be passed to the transport layer for retransmission, and Timer E MUST
    # be reset with a value of T2 seconds."
    tx.retransmit(TxInput.TIMER_E, tx.config.t2, now, out)


def _complete(tx: Nict, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.1.2.2: "If a final response (status codes 200-699) is received while in
    # the "Trying" state, the response MUST be passed to the TU ... and the client
    # transaction MUST transition to the "Completed" state." ... "Once the client
    # transaction enters the "Completed" state, it MUST set Timer K to fire in T4
    # seconds for unreliable transports, and zero seconds for reliable transports."
    pass_up(tx, now, message, out)
    tx.arm(TxInput.TIMER_K, tx.config.timer_k(tx.reliable), now, out)


Tr, P, K, T = NictState.TRYING, NictState.PROCEEDING, NictState.COMPLETED, NictState.TERMINATED
I = TxInput  # noqa: E741

_TRANSITIONS: dict[tuple[NictState, TxInput], tuple[Action[Nict], NictState]] = {
    (Tr, I.TIMER_E): (_retransmit_trying, Tr),
    # §17.1.2.2: "If Timer F fires while the client transaction is still in the
    # "Trying" state, the client transaction SHOULD inform the TU about the
    # timeout, and then it SHOULD enter the "Terminated" state."
    (Tr, I.TIMER_F): (report_timeout, T),
    # §17.1.2.2: "If a provisional response is received while in the "Trying"
    # state, the response MUST be passed to the TU, and then the client
    # transaction SHOULD move to the "Proceeding" state."
    (Tr, I.PROVISIONAL): (pass_up, P),
    **rows([Tr], [I.SUCCESS, I.FAILURE], _complete, K),
    (P, I.TIMER_E): (_retransmit_proceeding, P),
    # "If timer F fires while in the "Proceeding" state, the TU MUST be informed of
    # a timeout, and the client transaction MUST transition to the terminated state."
    (P, I.TIMER_F): (report_timeout, T),
    # "If a provisional response is received while in the "Proceeding" state, the
    # response MUST be passed to the TU".
    (P, I.PROVISIONAL): (pass_up, P),
    # "If a final response (status codes 200-699) is received while in the
    # "Proceeding" state, the response MUST be passed to the TU, and the client
    # transaction MUST transition to the "Completed" state."
    **rows([P], [I.SUCCESS, I.FAILURE], _complete, K),
    # "The "Completed" state exists to buffer any additional response
    # retransmissions that may be received (which is why the client transaction
    # remains there only for unreliable transports)."
    **rows([K], RESPONSE_INPUTS, ignore, K),
    # "If Timer K fires while in this state, the client transaction MUST
    # transition to the "Terminated" state."
    (K, I.TIMER_K): (ignore, T),
    # §17.1.4: inform the TU of a transport failure and terminate.
    **rows((Tr, P), [I.TRANSPORT_ERROR], report_transport_error, T),
    (K, I.TRANSPORT_ERROR): (ignore, T),
}

_KEEPS: dict[NictState, frozenset[TxInput]] = {
    Tr: frozenset({I.TIMER_E, I.TIMER_F}),
    P: frozenset({I.TIMER_E, I.TIMER_F}),
    K: frozenset({I.TIMER_K}),
    T: frozenset(),
}

SPEC: Spec[NictState, Nict] = Spec("NICT", _TRANSITIONS, _KEEPS, Tr, T)
Nict.spec = SPEC
TRANSITIONS = _TRANSITIONS
