"""Endpoint: the sans-IO hub of the stack (the aioquic `QuicConnection` shape).

The shell feeds bytes with `receive(data, source, transport, now)` and timer
ticks with `handle_timer(now)`, drains `outgoing()` to sockets, hands
`next_event()` to the transaction user, and sleeps until `get_timer()`. The TU
calls `send_request`, `send_response`, `send_cancel`, `send_ack`.

Inside: parse -> transport rules (Via received/rport, RFC 3581) ->
TransactionLayer (ICT/NICT/IST/NIST) -> INVITE usage (2xx retransmission,
ACK for 2xx, CANCEL) -> events.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import LocalProtocolError, ParseError
from .events import (
    CancelReceived,
    Event,
    MessageRejected,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from .header_values import Via
from .ids import IdSource
from .invite import InviteUsage, build_cancel
from .message import Message, Request, Response, make_error_response, make_response
from .parse import parse_message
from .serialize import serialize, wire_size
from .timers import TimerConfig
from .transaction.base import (
    PassUp,
    TimedOut,
    Transaction,
    TransportError,
    TxInput,
    response_input,
)
from .transaction.ict import Ict, IctState
from .transaction.ist import Ist, IstState
from .transaction.keys import ServerKey, any_method, client_tx_id, server_key
from .transaction.layer import TransactionLayer, Upcall
from .transaction.nict import Nict
from .transport import (
    Address,
    Datagram,
    Transport,
    bracket,
    response_destination,
    stamp_via,
    transport_of,
)

_DEFAULT_TIMERS = TimerConfig()
# RFC 3261 §18.1.1: "If a request is within 200 bytes of the path MTU, or if it is
# larger than 1300 bytes and the path MTU is unknown, the request MUST be sent using
# an RFC 2914 congestion controlled transport protocol, such as TCP." We never know
# the path MTU, so 1300 bytes is the limit for a request over UDP.
UDP_REQUEST_LIMIT = 1300
_LIVE_ICT = (IctState.CALLING, IctState.PROCEEDING)


class Endpoint:
    def __init__(
        self,
        *,
        local: dict[Transport, Address],
        ids: IdSource,
        timers: TimerConfig = _DEFAULT_TIMERS,
        user_agent: str = "softswitch",
        sent_by: dict[Transport, Address] | None = None,
    ) -> None:
        self.local = dict(local)
        self.ids = ids
        self.timers = timers
        self.user_agent = user_agent
        self._out: list[Datagram] = []
        self._events: deque[Event] = deque()
        self.transactions = TransactionLayer(timers, self._out)
        self.invites = InviteUsage(timers)
        self._now = 0.0
        # (Call-ID, From tag, CSeq, method) -> server transaction, for merged requests
        self._origins: dict[tuple[str, str | None, int, str], ServerKey] = {}
        # RFC 3261 §18.1.1: sent-by is "the address and port where the response should
        # be sent": the address peers reach us at, never a wildcard bind (0.0.0.0).
        self.sent_by = {**self.local, **(sent_by or {})}
        self._via_prefix = {
            t: f"SIP/2.0/{t.value} {bracket(host)}:{port};branch="
            for t, (host, port) in self.sent_by.items()
        }

    def __repr__(self) -> str:
        return f"<Endpoint {self.local} txs={len(self.transactions)} {self.ids!r}>"

    # -- shell side -------------------------------------------------------------------
    def outgoing(self) -> list[Datagram]:
        """Everything to send since the last call (drains).

        Flushing is also when a new INVITE's 100 Trying is decided: the TU has seen the
        request by now, and an INVITE it already answered needs none (RFC 3261 §17.2.1).
        That saves a datagram per digest challenge, and phones that take the first
        response to an INVITE for the interesting one (pyVoIP 1.6.8) see the challenge."""
        if self.transactions.trying_due:
            self.transactions.send_trying(self._now)
        out = self._out[:]
        self._out.clear()
        return out

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest deadline across transactions and the INVITE usage."""
        a = self.transactions.get_timer()
        b = self.invites.get_timer()
        if a is None:
            return b
        return a if b is None or a <= b else b

    def handle_timer(self, now: float) -> None:
        self._now = now
        self._upcalls(self.transactions.handle_timer(now))
        sent, timed_out = self.invites.handle_timer(now)
        self._out.extend(sent)
        self._events.extend(timed_out)

    def transport_failed(self, destination: Address, transport: Transport, now: float) -> None:
        """§17.1.4: a TCP connect or send failed; every client transaction towards
        `destination` learns of it and the TU gets TransportFailed."""
        self._now = now
        for tx in self.transactions.client_txs_to(destination, transport):
            self._upcalls(self.transactions.feed(tx, _TRANSPORT_ERROR, now))

    # -- receiving --------------------------------------------------------------------
    def receive(self, data: bytes, source: Address, transport: Transport, now: float) -> None:
        self._now = now
        try:
            message = parse_message(data)
            if isinstance(message, Request):
                self._receive_request(message, source, transport, now)
            else:
                self._receive_response(message, now)
        except ParseError as exc:
            self._reject(exc, source, transport)

    def _receive_request(
        self, request: Request, source: Address, transport: Transport, now: float
    ) -> None:
        stamped = stamp_via(request.top_via, source)
        if stamped is not None:
            request.replace_top_via(stamped)
        handler = _REQUEST_HANDLERS.get(request.method, Endpoint._receive_other)
        handler(self, request, source, transport, now)

    def _receive_other(
        self, request: Request, source: Address, transport: Transport, now: float
    ) -> None:
        key = server_key(request, request.method)
        tx = self.transactions.server.get(key)
        if tx is not None and tx.request.cseq.seq != request.cseq.seq:
            # Not a retransmission but a new request reusing the branch, against §8.1.1.7
            # ("the branch ID MUST be unique"): pyVoIP 1.6.8 re-sends its INVITE with
            # credentials on the challenged INVITE's branch and a higher CSeq. The old
            # transaction only absorbed retransmissions; the new request gets its own.
            self.transactions.forget(tx)
            tx = None
        if tx is not None:
            # §17.2.3: a retransmission goes to its transaction (resends, absorbs)
            self.transactions.feed(tx, _REQUEST, now, request)
            return
        if self._merged(request, key):
            # §8.2.2.2: the same request reached us twice by different paths (a forking
            # proxy upstream); the copy that lost gets 482 and never reaches the TU.
            refusal = make_response(request, 482, "Loop Detected", to_tag=self.ids.tag())
            destination = response_destination(request.top_via, source, transport)
            self.send_stateless(self._stamp_server(refusal), destination, transport)
            return
        reply_to = response_destination(request.top_via, source, transport)
        tx = self.transactions.start_server(request, key, reply_to, transport, now)
        self._events.append(RequestReceived(request, source, transport, tx.id))

    def _receive_ack(
        self, request: Request, source: Address, transport: Transport, now: float
    ) -> None:
        tx = self.transactions.server.get(server_key(request, "INVITE"))
        if tx is not None and tx.state is not IstState.ACCEPTED:
            # §17.2.1: the ACK for a non-2xx final belongs to the IST (-> Confirmed)
            self.transactions.feed(tx, _ACK, now, request)
            return
        # §17.1.1.3 / §13.3.1.4: the ACK for a 2xx is for the UA core; it stops the
        # 2xx retransmission and is passed to the TU without a transaction.
        self.invites.ack_received(request.call_id, request.cseq.seq)
        self._events.append(RequestReceived(request, source, transport, None))

    def _receive_cancel(
        self, request: Request, source: Address, transport: Transport, now: float
    ) -> None:
        layer = self.transactions
        key = server_key(request, "CANCEL")
        own = layer.server.get(key)
        if own is not None:
            layer.feed(own, _REQUEST, now, request)
            return
        invite_tx = layer.server.get(server_key(request, "INVITE"))
        reply_to = response_destination(request.top_via, source, transport)
        nist = layer.start_server(request, key, reply_to, transport, now)
        if not isinstance(invite_tx, Ist) and any_method(key) in layer.non_invite:
            # §9.2: "The TU determines the transaction to be cancelled by taking the
            # CANCEL request, and then assuming that the request method is anything but
            # CANCEL or ACK and applying the transaction matching procedures of Section
            # 17.2.3." A match here is a pending or completed non-INVITE request: "A
            # CANCEL request has no impact on the processing of transactions with any
            # other method defined in this specification." and "Regardless of the method
            # of the original request, as long as the CANCEL matched an existing
            # transaction, the UAS answers the CANCEL request itself with a 200 (OK)
            # response." No event: the original request goes on untouched. (An in-dialog
            # request keeps its To tag; otherwise the tag is fresh, as the TU's answer to
            # the original, if any, was not kept parsed.)
            response = make_response(request, 200, to_tag=self.ids.tag())
            layer.feed(nist, response_input(200), now, self._stamp_server(response))
            return
        if not isinstance(invite_tx, Ist):
            # §9.2: "If the UAS did not find a matching transaction for the CANCEL
            # according to the procedure above, it SHOULD respond to the CANCEL
            # with a 481 (Call Leg/Transaction Does Not Exist)."
            response = make_response(request, 481, to_tag=self.ids.tag())
            layer.feed(nist, response_input(481), now, self._stamp_server(response))
            return
        # §9.2: "the UAS ... SHOULD respond to the CANCEL with a 200 (OK)" and "The
        # To tag of the response to the CANCEL and the to tag in the response to
        # the original request SHOULD be the same."
        response = make_response(request, 200, to_tag=invite_tx.to_tag or self.ids.tag())
        layer.feed(nist, response_input(200), now, self._stamp_server(response))
        # §9.2: "If the UAS had already sent a final response for the original
        # request, the CANCEL has no effect on the request"; otherwise the TU
        # answers the INVITE with 487.
        if invite_tx.state is IstState.PROCEEDING:
            self._events.append(CancelReceived(request, invite_tx.id))

    def _receive_response(self, response: Response, now: float) -> None:
        via = response.top_via
        method = response.cseq.method
        tx = self.transactions.client.get(client_tx_id(via.branch or "", method))
        if tx is None or tx.method != method:
            # §18.1.2: "If none exist, the element MUST silently drop the response"
            return
        if not self._is_our_via(via, tx.transport):
            # §18.1.2: a top Via whose sent-by is not what we insert "MUST be silently
            # discarded" (a reflected or forged response that guessed a branch).
            return
        upcalls = self.transactions.feed(tx, response_input(response.status), now, response)
        self._upcalls(upcalls)
        if isinstance(tx, Ict) and tx.pending_cancel is not None:
            if tx.state is IctState.PROCEEDING:
                # §9.1: "If no provisional response has been received, the CANCEL
                # request MUST NOT be sent; rather, the client MUST wait for the
                # arrival of a provisional response before sending the request."
                self._start_cancel(tx, tx.pending_cancel, now)
            elif tx.state is not IctState.CALLING:
                # "If the original request later generates a final response, the
                # CANCEL SHOULD NOT be sent"
                tx.pending_cancel = None

    def _merged(self, request: Request, key: ServerKey) -> bool:
        """§8.2.2.2: no To tag, and From tag, Call-ID and CSeq equal to those of an ongoing
        server transaction that this request does not match."""
        try:
            if request.to.tag is not None:
                return False
            origin = (request.call_id, request.from_.tag, request.cseq.seq, request.method)
        except ParseError:
            return False
        server = self.transactions.server
        earlier = self._origins.get(origin)
        if earlier is not None and earlier != key and earlier in server:
            return True
        if len(self._origins) > 2 * len(server) + 1024:
            # forget the origins of transactions that have ended (amortised)
            self._origins = {o: k for o, k in self._origins.items() if k in server}
        self._origins[origin] = key
        return False

    def _is_our_via(self, via: Via, transport: Transport) -> bool:
        host, port = self.sent_by[transport]
        their_host, their_port = via.sent_by
        return their_host.strip("[]") == host.lower().strip("[]") and (their_port or 5060) == port

    def _upcalls(self, upcalls: list[Upcall]) -> None:
        for tx, effect in upcalls:
            if type(effect) is PassUp:
                self._pass_up(tx, effect.message)
            elif type(effect) is TimedOut:
                self._events.append(TransactionTimedOut(tx.id, tx.method))
            elif type(effect) is TransportError:
                # A request sent by TCP only for its size (§18.1.1) whose TCP failed
                # (the peer takes UDP only, say) is too large for that peer: 513.
                oversized = isinstance(tx, Ict | Nict) and tx.oversized
                self._events.append(TransportFailed(tx.id, too_large=oversized))

    def _pass_up(self, tx: Transaction[Any], message: Message) -> None:
        if not isinstance(message, Response):
            return
        if message.status >= 200 and message.status < 300 and isinstance(tx, Ict):
            # §13.2.2.4 / RFC 6026: a retransmitted 2xx we already ACKed gets the
            # same ACK again and is not passed up; a 2xx from another fork is.
            ack = self.invites.cached_ack(message.call_id, message.cseq.seq, message.to.tag)
            if ack is not None:
                self._out.append(ack)
                return
        self._events.append(ResponseReceived(message, tx.id))

    # -- rejecting malformed input ----------------------------------------------------
    def _reject(self, exc: ParseError, source: Address, transport: Transport) -> None:
        status: int | None = None
        if not exc.drop:
            answer = _stateless_error(exc, source, transport, self.ids.tag())
            if answer is not None:
                response, destination = answer
                self._stamp_server(response)
                self._out.append(Datagram(serialize(response), destination, transport))
                status = response.status
        self._events.append(MessageRejected(source, exc.reason, status))

    # -- sending ----------------------------------------------------------------------
    def send_request(
        self, request: Request, destination: Address, transport: Transport, now: float
    ) -> str:
        """Push our Via, start an ICT or NICT, send. Returns the tx_id (the branch)."""
        if request.method == "ACK":
            raise LocalProtocolError("ACK has no client transaction; use send_ack()")
        self._now = now
        self._fill_request(request)
        branch = self.ids.branch()
        oversized = False
        if transport is Transport.UDP and self._too_large_for_udp(request, branch):
            if Transport.TCP not in self._via_prefix:
                # §18.1.1 says TCP and we have none: the request cannot be sent as it
                # is. No transaction starts; the TU hears of a transport failure it
                # answers with 513 Message Too Large (§21.5.14).
                tx_id = client_tx_id(branch, request.method)
                self._events.append(TransportFailed(tx_id, too_large=True))
                return tx_id
            # §18.1.1: "the request MUST be sent using ... TCP", to the same address;
            # the Via names the transport it goes by.
            transport = Transport.TCP
            oversized = True
        # §8.1.1.7: "the client transaction MUST insert a Via header field value ...
        # the branch parameter MUST always begin with the characters "z9hG4bK""
        # RFC 3581 §3: "A client ... MAY include an "rport" parameter".
        request.prepend("via", self._via_prefix[transport] + branch + ";rport")
        tx, upcalls = self.transactions.start_client(request, destination, transport, now)
        tx.oversized = oversized
        self._upcalls(upcalls)
        return tx.id

    def _too_large_for_udp(self, request: Request, branch: str) -> bool:
        """§18.1.1: is `request`, with the Via we would push for UDP, over the limit?"""
        via_line = len(self._via_prefix[Transport.UDP]) + len(branch) + 13  # "Via: ";rport\r\n
        return wire_size(request) + via_line > UDP_REQUEST_LIMIT

    def _fill_request(self, request: Request) -> None:
        # §8.1.1.6: "A UAC MUST insert a Max-Forwards header field into each request
        # it originates with a value that SHOULD be 70."
        if request.get("max-forwards") is None:
            request.add("max-forwards", "70")
        if self.user_agent and request.get("user-agent") is None:
            request.add("user-agent", self.user_agent)

    def _stamp_server(self, response: Response) -> Response:
        if self.user_agent and response.get("server") is None:
            response.add("server", self.user_agent)
        return response

    def send_cancel(self, invite_tx_id: str, now: float, reason: str | None = None) -> str | None:
        """CANCEL the INVITE client transaction `invite_tx_id` (RFC 3261 §9.1).

        Returns the CANCEL's tx_id, or None if the INVITE already has a final
        response. Before any provisional response the CANCEL is held back and
        sent when one arrives (the tx_id is returned at once all the same)."""
        self._now = now
        tx = self.transactions.client.get(invite_tx_id)
        if not isinstance(tx, Ict) or tx.state not in _LIVE_ICT:
            return None
        cancel_id = client_tx_id(invite_tx_id, "CANCEL")
        if tx.pending_cancel is not None or cancel_id in self.transactions.client:
            return cancel_id
        cancel = build_cancel(tx.request, reason)
        if tx.state is IctState.CALLING:
            tx.pending_cancel = cancel
            return cancel_id
        self._start_cancel(tx, cancel, now)
        return cancel_id

    def _start_cancel(self, invite_tx: Ict, cancel: Request, now: float) -> None:
        invite_tx.pending_cancel = None
        self._fill_request(cancel)
        _, upcalls = self.transactions.start_client(
            cancel, invite_tx.destination, invite_tx.transport, now
        )
        # §9.1: the INVITE transaction is given up 64*T1 after the CANCEL is sent
        # if no final response arrives (see ict._cancel_timeout).
        self.transactions.arm(invite_tx, _TIMER_B, now + self.timers.timer_b())
        self._upcalls(upcalls)

    def send_ack(self, ack: Request, destination: Address, transport: Transport) -> None:
        """Send the ACK for a 2xx statelessly with a fresh branch (§13.2.2.4), and
        remember it so that retransmissions of that 2xx are answered with it."""
        self._fill_request(ack)
        branch = self.ids.branch()
        if (
            transport is Transport.UDP
            and Transport.TCP in self._via_prefix
            and self._too_large_for_udp(ack, branch)
        ):
            # §18.1.1 as for any request; an ACK has no transaction to fail, so with no
            # TCP it goes over UDP as it is.
            transport = Transport.TCP
        ack.prepend("via", self._via_prefix[transport] + branch + ";rport")
        datagram = Datagram(serialize(ack), destination, transport)
        self._out.append(datagram)
        self.invites.remember_ack(ack.call_id, ack.cseq.seq, ack.to.tag, datagram, self._now)

    def send_response(self, response: Response, now: float) -> None:
        """Send a response through its server transaction (§17.2), or statelessly
        by the Via rules (§18.2.2) when the transaction is gone."""
        self._now = now
        self._stamp_server(response)
        cseq = response.cseq
        tx = self.transactions.server.get(server_key(response, cseq.method))
        if tx is None:
            via = response.top_via
            transport = transport_of(via.transport)
            destination = response_destination(via, None, transport)
            self._out.append(Datagram(serialize(response), destination, transport))
            return
        status = response.status
        self._upcalls(self.transactions.feed(tx, response_input(status), now, response))
        if 200 <= status < 300 and isinstance(tx, Ist) and tx.last is not None:
            # §13.3.1.4: the UA core, not the IST, retransmits the 2xx until ACKed.
            datagram = Datagram(tx.last, tx.destination, tx.transport)
            self.invites.start_2xx(response.call_id, cseq.seq, datagram, tx.id, now)

    def send_stateless(
        self, message: Request | Response, destination: Address, transport: Transport
    ) -> None:
        self._out.append(Datagram(serialize(message), destination, transport))


_REQUEST = TxInput.REQUEST
_ACK = TxInput.ACK
_TIMER_B = TxInput.TIMER_B
_TRANSPORT_ERROR = TxInput.TRANSPORT_ERROR

_RequestHandler = Callable[[Endpoint, Request, Address, Transport, float], None]
_REQUEST_HANDLERS: dict[str, _RequestHandler] = {
    "ACK": Endpoint._receive_ack,
    "CANCEL": Endpoint._receive_cancel,
}


def _stateless_error(
    exc: ParseError, source: Address, transport: Transport, to_tag: str
) -> tuple[Response, Address] | None:
    """The error response to a request the parser refused (RFC 3261 §8.2 / §21.4) and
    where it goes: built from the header lines the parser kept (make_error_response),
    its top Via stamped with received/rport so it routes back (§18.2.2), a To tag added;
    None when unanswerable."""
    response = make_error_response(exc, " ".join(exc.reason.split()) or "Bad Request")
    if response is None:
        return None
    to = response.get("to")
    if to is not None and ";tag=" not in to.replace(" ", ""):
        response.set("to", f"{to};tag={to_tag}")
    try:
        top = response.top_via
    except ParseError:
        # The Via itself is what is wrong (RFC 4475 §3.1.2.1 "SIP/2.0/UDP 192.0.2.15;;,;,,",
        # §3.1.2.16 "SIP/7.0/UDP"): RFC 4475 still wants the 400/505, and the only route
        # back is the address the request came from; the Via goes back as it was sent.
        return response, source
    response.replace_top_via(stamp_via(top, source) or top)
    return response, response_destination(response.top_via, source, transport)
