"""INVITE client transaction: RFC 3261 §17.1.1 with the RFC 6026 Accepted state.

States CALLING, PROCEEDING, COMPLETED, ACCEPTED, TERMINATED; Timers A, B, D, M.
The ACK for a non-2xx final response is built here (§17.1.1.3); the ACK for a
2xx belongs to the UA core (`sipstack/invite.py`, §13.2.2.4).
"""

from __future__ import annotations

import enum

from ..message import Message, Request
from ..serialize import serialize
from .base import (
    Action,
    ClientTransaction,
    Effect,
    Spec,
    TxInput,
    as_response,
    ignore,
    pass_up,
    report_timeout,
    report_transport_error,
    rows,
)


class IctState(enum.Enum):
    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Ict(ClientTransaction[IctState]):
    __slots__ = ("ack", "pending_cancel")
    ack: bytes | None  # the §17.1.1.3 ACK, kept for retransmitted finals
    pending_cancel: Request | None  # §9.1: CANCEL waiting for a 1xx

    def _init_own(self) -> None:
        self.ack = None
        self.pending_cancel = None

    def start(self, now: float) -> list[Effect]:
        """§17.1.1.2: "The initial state, "calling", MUST be entered when the TU
        initiates a new client transaction with an INVITE request. The client
        transaction MUST pass the request to the transport layer for transmission"
        ... "If an unreliable transport is being used, the client transaction MUST
        start timer A with a value of T1." ... "the client transaction MUST set
        timer B to fire after 64*T1 seconds"."""
        return self.send_request(
            now,
            retransmit=TxInput.TIMER_A,
            interval=self.config.timer_a(self.reliable),
            timeout=TxInput.TIMER_B,
            after=self.config.timer_b(),
        )


def build_ack(invite: Request, response: Message) -> Request:
    """The ACK for a non-2xx final response, RFC 3261 §17.1.1.3.

    "The ACK request constructed by the client transaction MUST contain values
    for the Call-ID, From, and Request-URI that are equal to the values of those
    header fields in the request passed to the transport by the client
    transaction (call this the "original request"). The To header field in the
    ACK MUST equal the To header field in the response being acknowledged. The
    ACK MUST contain a single Via header field, and this MUST be equal to the top
    Via header field of the original request. The CSeq header field in the ACK
    MUST contain the same value for the sequence number as was present in the
    original request, but the method parameter MUST be equal to "ACK"."  "If the
    INVITE request whose response is being acknowledged had Route header
    fields, those header fields MUST appear in the ACK."
    """
    headers: list[tuple[str, str]] = [("via", str(invite.top_via))]
    to_value = response.get("to") or invite.get("to") or ""
    for name, value in invite.headers:
        if name in ("from", "call-id", "route", "max-forwards"):
            headers.append((name, value))
        elif name == "to":
            headers.append(("to", to_value))
    headers.append(("cseq", f"{invite.cseq.seq} ACK"))
    return Request("ACK", invite.uri, headers)


# -- actions -----------------------------------------------------------------------


def _retransmit(tx: Ict, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.1.1.2: "When timer A fires, the client transaction MUST retransmit the
    # request by passing it to the transport layer, and MUST reset the timer with
    # a value of 2*T1." (no cap for INVITE)
    tx.retransmit(TxInput.TIMER_A, tx.config.double(tx.interval), now, out)


def _accept(tx: Ict, now: float, message: Message | None, out: list[Effect]) -> None:
    # RFC 6026 §8.4: "If a 2xx response is received while the client INVITE state
    # machine is in the "Calling" or "Proceeding" states, it MUST transition to
    # the "Accepted" state, pass the 2xx response to the TU, and set Timer M to
    # 64*T1."
    pass_up(tx, now, message, out)
    tx.arm(TxInput.TIMER_M, tx.config.timer_m(), now, out)


def _complete(tx: Ict, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.1.1.2: "When in either the "Calling" or "Proceeding" states, reception
    # of a response with status code from 300-699 MUST cause the client
    # transaction to transition to "Completed". The client transaction MUST pass
    # the received response up to the TU, and the client transaction MUST
    # generate an ACK request, even if the transport is reliable ... and then pass
    # the ACK to the transport layer for transmission. ... The client transaction
    # SHOULD start timer D".
    response = as_response(message)
    pass_up(tx, now, response, out)
    tx.ack = serialize(build_ack(tx.request, response))
    tx.last = tx.ack
    _resend_ack(tx, now, None, out)
    tx.arm(TxInput.TIMER_D, tx.config.timer_d(tx.reliable), now, out)


def _resend_ack(tx: Ict, now: float, message: Message | None, out: list[Effect]) -> None:
    # §17.1.1.2: "Any retransmissions of the final response that are received
    # while in the "Completed" state MUST cause the ACK to be re-passed to the
    # transport layer for retransmission, but the newly received response MUST
    # NOT be passed up to the TU."
    if tx.ack is not None:
        tx.resend(out)


def _cancel_timeout(tx: Ict, now: float, message: Message | None, out: list[Effect]) -> None:
    # §9.1: "If the original request ... does not generate a final response within
    # 64*T1 seconds after the CANCEL was sent, the client SHOULD ... consider the
    # original transaction cancelled and SHOULD destroy the client transaction
    # handling the original request."  (Timer B re-armed by the layer on CANCEL.)
    report_timeout(tx, now, message, out)


C, P, K, A, T = (
    IctState.CALLING,
    IctState.PROCEEDING,
    IctState.COMPLETED,
    IctState.ACCEPTED,
    IctState.TERMINATED,
)
I = TxInput  # noqa: E741

_TRANSITIONS: dict[tuple[IctState, TxInput], tuple[Action[Ict], IctState]] = {
    # §17.1.1.2: "When timer A fires, the client transaction MUST retransmit".
    (C, I.TIMER_A): (_retransmit, C),
    # §17.1.1.2: "If the client transaction is still in the "Calling" state when
    # timer B fires, the client transaction SHOULD inform the TU that a timeout
    # has occurred."
    (C, I.TIMER_B): (report_timeout, T),
    # §17.1.1.2: "If the client transaction receives a provisional response while
    # in the "Calling" state, it transitions to the "Proceeding" state. ... the
    # client transaction SHOULD NOT retransmit the request any longer.
    # Furthermore, the provisional response MUST be passed to the TU."
    (C, I.PROVISIONAL): (pass_up, P),
    # "Any further provisional responses MUST be passed up to the TU while in the
    # "Proceeding" state."
    (P, I.PROVISIONAL): (pass_up, P),
    # RFC 6026 §8.4: 2xx in Calling or Proceeding -> Accepted, pass up, Timer M.
    **rows((C, P), [I.SUCCESS], _accept, A),
    # §17.1.1.2: 300-699 in Calling or Proceeding -> Completed, pass up, ACK, Timer D.
    **rows((C, P), [I.FAILURE], _complete, K),
    # §9.1 CANCEL guard (see _cancel_timeout).
    (P, I.TIMER_B): (_cancel_timeout, T),
    # §17.1.1.2: retransmitted final responses in Completed re-send the ACK.
    (K, I.FAILURE): (_resend_ack, K),
    # NOT IN RFC: a 1xx or 2xx after a non-2xx final is a broken peer; absorb it.
    **rows([K], [I.PROVISIONAL, I.SUCCESS], ignore, K),
    # §17.1.1.2: "If timer D fires while the client transaction is in the
    # "Completed" state, the client transaction MUST move to the terminated state."
    (K, I.TIMER_D): (ignore, T),
    # RFC 6026 §8.4: "any 2xx responses that match this client transaction and
    # that are received while in the "Accepted" state MUST be passed up to the TU.
    # The client transaction MUST NOT generate an ACK to the 2xx response".
    (A, I.SUCCESS): (pass_up, A),
    # NOT IN RFC 6026: 1xx and non-2xx finals after a 2xx are absorbed.
    **rows([A], [I.PROVISIONAL, I.FAILURE], ignore, A),
    # RFC 6026 §8.4: "If Timer M fires while the client transaction is in the
    # "Accepted" state, the client transaction MUST move to the "Terminated" state."
    (A, I.TIMER_M): (ignore, T),
    # §17.1.4: "the client transaction SHOULD inform the TU that a transport
    # failure has occurred, and the client transaction SHOULD transition directly
    # to the "Terminated" state."
    **rows((C, P), [I.TRANSPORT_ERROR], report_transport_error, T),
    # After a final response the TU already has its answer; only the ACK failed.
    **rows((K, A), [I.TRANSPORT_ERROR], ignore, T),
}

_KEEPS: dict[IctState, frozenset[TxInput]] = {
    C: frozenset({I.TIMER_A, I.TIMER_B}),
    P: frozenset(),
    K: frozenset({I.TIMER_D}),
    A: frozenset({I.TIMER_M}),
    T: frozenset(),
}

SPEC: Spec[IctState, Ict] = Spec("ICT", _TRANSITIONS, _KEEPS, C, T)
Ict.spec = SPEC
TRANSITIONS = _TRANSITIONS
