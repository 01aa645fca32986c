"""Events the endpoint hands to the transaction user: facts, named in the past tense.

Pulled one at a time with `Endpoint.next_event()` (the aioquic/h11 shape).
"""

from __future__ import annotations

import msgspec

from .message import Request, Response
from .transport import Address, Transport


class RequestReceived(msgspec.Struct, frozen=True):
    """A new request for the TU. `tx_id` names its server transaction; None for ACK,
    which never has one (RFC 3261 §17.1.1.3: the ACK for a 2xx is its own transaction)."""

    request: Request
    source: Address
    transport: Transport
    tx_id: str | None


class CancelReceived(msgspec.Struct, frozen=True):
    """A CANCEL matched a pending INVITE (RFC 3261 §9.2). The endpoint has already
    answered the CANCEL with 200; the TU must answer the INVITE with 487."""

    cancel: Request
    invite_tx_id: str


class ResponseReceived(msgspec.Struct, frozen=True):
    response: Response
    tx_id: str


class TransactionTimedOut(msgspec.Struct, frozen=True, gc=False):
    """Timer B or F fired (or the §9.1 CANCEL guard): the TU treats it as a 408."""

    tx_id: str
    method: str


class TransportFailed(msgspec.Struct, frozen=True, gc=False):
    """The transport could not carry the request of client transaction `tx_id`
    (RFC 3261 §17.1.4). `too_large`: it was never sent, being over the RFC 3261
    §18.1.1 UDP size limit with no TCP to send it by; the TU answers 513 upstream."""

    tx_id: str
    too_large: bool = False


class AckTimedOut(msgspec.Struct, frozen=True, gc=False):
    """A 2xx to INVITE was never ACKed within 64*T1 (RFC 3261 §13.3.1.4):
    "the session SHOULD be terminated" -- the TU should send BYE."""

    tx_id: str
    call_id: str


class MessageRejected(msgspec.Struct, frozen=True, gc=False):
    """Malformed input. `status` is what the endpoint answered statelessly, or None
    when the message was dropped."""

    source: Address
    reason: str
    status: int | None


Event = (
    RequestReceived
    | CancelReceived
    | ResponseReceived
    | TransactionTimedOut
    | TransportFailed
    | AckTimedOut
    | MessageRejected
)
