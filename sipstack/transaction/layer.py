"""TransactionLayer: the transaction table, the deadline heap and dispatch.

Transmit effects become `Datagram`s in the shared outbox; Armed effects go on a
heap of (when, seq, key, timer) with lazy deletion -- an entry is live only if
the transaction with that key still exists and still has that timer armed for
that time. The heap holds keys, not transactions, so a cancelled timer does not
keep a finished transaction alive. Effects meant for the TU (PassUp, TimedOut,
TransportError) are returned to the caller (the endpoint) with their
transaction.
"""

from __future__ import annotations

import heapq
from typing import Any

from ..message import Message, Request
from ..timers import TimerConfig
from ..transport import Address, Datagram, Transport
from .base import Armed, Effect, Transaction, Transmit, TxInput
from .ict import Ict
from .ist import Ist
from .keys import ServerKey, any_method, client_tx_id, server_tx_id
from .nict import Nict
from .nist import Nist

ClientTx = Ict | Nict
ServerTx = Ist | Nist
Upcall = tuple[Transaction[Any], Effect]


class TransactionLayer:
    __slots__ = (
        "config",
        "out",
        "client",
        "server",
        "non_invite",
        "_heap",
        "_seq",
        "trying_due",
    )

    def __init__(self, config: TimerConfig, out: list[Datagram] | None = None) -> None:
        self.config = config
        self.out: list[Datagram] = out if out is not None else []
        self.client: dict[str, ClientTx] = {}
        self.server: dict[ServerKey, ServerTx] = {}
        # the live non-INVITE server transactions (not CANCEL) by `any_method(key)`: what
        # a CANCEL for a non-INVITE request matches (§9.2)
        self.non_invite: dict[ServerKey, Nist] = {}
        self._heap: list[tuple[float, int, str | ServerKey, TxInput]] = []
        self._seq = 0
        self.trying_due: list[Ist] = []  # new INVITEs whose 100 Trying is decided at flush

    def __len__(self) -> int:
        return len(self.client) + len(self.server)

    # -- creation ---------------------------------------------------------------------
    def start_client(
        self, request: Request, destination: Address, transport: Transport, now: float
    ) -> tuple[ClientTx, list[Upcall]]:
        """A new ICT or NICT for `request`, whose top Via already carries our branch."""
        branch = request.top_via.branch or ""
        tx_id = client_tx_id(branch, request.method)
        tx: ClientTx
        if request.method == "INVITE":
            tx = Ict(tx_id, request, destination, transport, self.config)
        else:
            tx = Nict(tx_id, request, destination, transport, self.config)
        self.client[tx_id] = tx
        return tx, self._settle(tx, tx.start(now))

    def start_server(
        self,
        request: Request,
        key: ServerKey,
        reply_to: Address,
        transport: Transport,
        now: float,
    ) -> ServerTx:
        """A new IST (its 100 Trying waits for `send_trying`) or NIST."""
        tx_id = server_tx_id(key)
        tx: ServerTx
        if request.method == "INVITE":
            tx = Ist(tx_id, key, request, reply_to, transport, self.config)
            self.server[key] = tx
            self.trying_due.append(tx)
        else:
            tx = Nist(tx_id, key, request, reply_to, transport, self.config)
            self.server[key] = tx
            if request.method != "CANCEL":
                self.non_invite[any_method(key)] = tx
        return tx

    def send_trying(self, now: float) -> None:
        """100 Trying for every new INVITE the TU has not answered yet (§17.2.1)."""
        due, self.trying_due = self.trying_due, []
        for tx in due:
            if not tx.terminated:
                self._settle(tx, tx.start(now))

    # -- dispatch ---------------------------------------------------------------------
    def feed(
        self, tx: Transaction[Any], inp: TxInput, now: float, message: Message | None = None
    ) -> list[Upcall]:
        """Run one input through `tx`; a LocalProtocolError still removes it."""
        try:
            effects = tx.step(inp, now, message)
        except Exception:
            self._forget(tx)
            raise
        return self._settle(tx, effects)

    def arm(self, tx: Transaction[Any], timer: TxInput, when: float) -> None:
        """Arm a timer from outside the FSM (the §9.1 CANCEL guard)."""
        tx.timers[timer] = when
        self._push(tx.key, timer, when)

    def _settle(self, tx: Transaction[Any], effects: list[Effect]) -> list[Upcall]:
        upcalls: list[Upcall] = []
        for effect in effects:
            if type(effect) is Transmit:
                self.out.append(Datagram(effect.data, tx.destination, tx.transport))
            elif type(effect) is Armed:
                self._push(tx.key, effect.timer, effect.when)
            else:
                upcalls.append((tx, effect))
        if tx.terminated:
            self._forget(tx)
        return upcalls

    def forget(self, tx: Transaction[Any]) -> None:
        """Drop `tx` from the table at once (its timers then find nothing to fire)."""
        self._forget(tx)

    def _forget(self, tx: Transaction[Any]) -> None:
        table: dict[Any, Any] = self.client if isinstance(tx.key, str) else self.server
        if table.get(tx.key) is tx:
            del table[tx.key]
        if isinstance(tx, Nist):
            match = any_method(tx.key)
            if self.non_invite.get(match) is tx:
                del self.non_invite[match]

    # -- timers -----------------------------------------------------------------------
    def _push(self, key: str | ServerKey, timer: TxInput, when: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, key, timer))

    def _live(self, key: str | ServerKey, timer: TxInput, when: float) -> Transaction[Any] | None:
        tx: Transaction[Any] | None
        tx = self.client.get(key) if isinstance(key, str) else self.server.get(key)
        if tx is not None and tx.timers.get(timer) == when:
            return tx
        return None

    def get_timer(self) -> float | None:
        heap = self._heap
        while heap:
            when, _, key, timer = heap[0]
            if self._live(key, timer, when) is not None:
                return when
            heapq.heappop(heap)
        return None

    def handle_timer(self, now: float) -> list[Upcall]:
        """Fire every timer due at `now`, in deadline order."""
        heap = self._heap
        upcalls: list[Upcall] = []
        while heap and heap[0][0] <= now:
            when, _, key, timer = heapq.heappop(heap)
            tx = self._live(key, timer, when)
            if tx is None:
                continue
            del tx.timers[timer]
            upcalls.extend(self.feed(tx, timer, now))
        return upcalls

    def client_txs_to(self, destination: Address, transport: Transport) -> list[ClientTx]:
        return [
            tx
            for tx in self.client.values()
            if tx.destination == destination and tx.transport is transport
        ]
