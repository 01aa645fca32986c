"""Non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6).

States TRYING, PROCEEDING, COMPLETED, TERMINATED; Timers E, F, K.
"""

from __future__ import annotations

import enum

from ..message import Message, Request
from ..serialize import serialize
from ..timers import TimerConfig
from ..transport import Address, Transport
from .base import (
    Action,
    Effect,
    Spec,
    Transaction,
    TxInput,
    ignore,
    pass_up,
    report_timeout,
    report_transport_error,
)


class NictState(enum.Enum):
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class Nict(Transaction[NictState]):
    __slots__ = ()

    def __init__(
        self,
        tx_id: str,
        request: Request,
        destination: Address,
        transport: Transport,
        config: TimerConfig,
    ) -> None:
        super().__init__(tx_id, tx_id, request, destination, transport, config, NictState.TRYING)

    def start(self, now: float) -> list[Effect]:
        """§17.1.2.2: "The "Trying" state is entered when the TU initiates a new
        client transaction with a request. When entering this state, the client
        transaction SHOULD set timer F to fire in 64*T1 seconds. The request MUST
        be passed to the transport layer for transmission. If an unreliable
        transport is in use, the client transaction MUST set timer E to fire in T1
        seconds.\""""
        out: list[Effect] = []
        self.send(serialize(self.request), out)
        interval = self.config.timer_e(self.reliable)
        if interval is not None:
            self.interval = interval
            self.arm(TxInput.TIMER_E, interval, now, out)
        self.arm(TxInput.TIMER_F, self.config.timer_f(), now, out)
        return out

    def step(self, inp: TxInput, now: float, message: Message | None = None) -> list[Effect]:
        return SPEC.run(self, inp, now, message)


def _retransmit_trying(tx: Nict, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.1.2.2: "If timer E fires while still in this state, the timer is reset,
    # but this time with a value of MIN(2*T1, T2). When the timer fires again, it
    # is reset to a MIN(4*T1, T2). ... Retransmissions continue".
    tx.resend(out)
    tx.interval = tx.config.double_capped(tx.interval)
    tx.arm_retransmit(TxInput.TIMER_E, now, out)


def _retransmit_proceeding(
    tx: Nict, now: float, message: Message | None, out: list[Effect]
) -> None:
    # §17.1.2.2: "If Timer E fires while in the "Proceeding" state, the request
    # MUST be passed to the transport layer for retransmission, and Timer E MUST
    # be reset with a value of T2 seconds."
    tx.resend(out)
    tx.interval = tx.config.t2
    tx.arm_retransmit(TxInput.TIMER_E, now, out)


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
    (Tr, I.SUCCESS): (_complete, K),
    (Tr, I.FAILURE): (_complete, K),
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
    (P, I.SUCCESS): (_complete, K),
    (P, I.FAILURE): (_complete, K),
    # "The "Completed" state exists to buffer any additional response
    # retransmissions that may be received (which is why the client transaction
    # remains there only for unreliable transports)."
    (K, I.PROVISIONAL): (ignore, K),
    (K, I.SUCCESS): (ignore, K),
    (K, I.FAILURE): (ignore, K),
    # "If Timer K fires while in this state, the client transaction MUST
    # transition to the "Terminated" state."
    (K, I.TIMER_K): (ignore, T),
    # §17.1.4: inform the TU of a transport failure and terminate.
    (Tr, I.TRANSPORT_ERROR): (report_transport_error, T),
    (P, I.TRANSPORT_ERROR): (report_transport_error, T),
    (K, I.TRANSPORT_ERROR): (ignore, T),
}

_KEEPS: dict[NictState, frozenset[TxInput]] = {
    Tr: frozenset({I.TIMER_E, I.TIMER_F}),
    P: frozenset({I.TIMER_E, I.TIMER_F}),
    K: frozenset({I.TIMER_K}),
    T: frozenset(),
}

SPEC: Spec[NictState, Nict] = Spec("NICT", _TRANSITIONS, _KEEPS, T)
TRANSITIONS = _TRANSITIONS
