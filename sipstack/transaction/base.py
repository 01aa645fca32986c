"""Transaction machinery shared by the four RFC 3261 §17 state machines.

Each FSM module holds one `_TRANSITIONS` table mapping (state, input) to
(action, next state), the h2 `stream.py` shape with sipgo's timer inputs. The
runner here looks the pair up; a pair not in the table raises
`LocalProtocolError` and leaves the transaction TERMINATED.

Transactions do no I/O: `step()` returns effects (bytes to transmit, a message
to pass up, a timeout or transport error to report, a timer armed at an
absolute time). Timers are data: `timers` maps each armed timer to its
deadline; the layer keeps the heap. A zero duration ("zero seconds for
reliable transports") fires inside the same step.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from ..errors import LocalProtocolError
from ..message import Message, Request, Response
from ..serialize import serialize
from ..timers import TimerConfig
from ..transport import Address, Transport


class TxInput(enum.Enum):
    """Inputs of every transaction FSM: messages by class, timers, transport errors.

    For client transactions PROVISIONAL/SUCCESS/FAILURE are responses received;
    for server transactions they are responses the TU sends.
    """

    PROVISIONAL = "1xx"
    SUCCESS = "2xx"
    FAILURE = "3xx-6xx"
    REQUEST = "request retransmission"
    ACK = "ACK"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TRANSPORT_ERROR = "transport error"


RESPONSE_INPUTS = (TxInput.PROVISIONAL, TxInput.SUCCESS, TxInput.FAILURE)
TIMER_INPUTS = tuple(i for i in TxInput if i.name.startswith("TIMER_"))


def response_input(status: int) -> TxInput:
    if status < 200:
        return TxInput.PROVISIONAL
    if status < 300:
        return TxInput.SUCCESS
    return TxInput.FAILURE


# -- effects -------------------------------------------------------------------------


class Transmit(msgspec.Struct, frozen=True, gc=False):
    """Send these bytes to the transaction's peer."""

    data: bytes


class PassUp(msgspec.Struct, frozen=True):
    """Hand this message to the transaction user."""

    message: Message


class TimedOut(msgspec.Struct, frozen=True, gc=False):
    """Tell the TU the transaction timed out (Timer B/F, §17.1.1.2, §17.1.2.2)."""


class TransportError(msgspec.Struct, frozen=True, gc=False):
    """Tell the TU the transport failed (§17.1.4, §17.2.4)."""


class Armed(msgspec.Struct, frozen=True, gc=False):
    """A timer now runs until `when`; the layer puts it on its heap."""

    timer: TxInput
    when: float


Effect = Transmit | PassUp | TimedOut | TransportError | Armed

S = TypeVar("S", bound=enum.Enum)


class Transaction(Generic[S]):
    """State common to the four FSMs, run by the subclass's table (`spec`).

    Constructed as a server transaction is: its own id and the key requests match it
    by (§17.2.3); `ClientTransaction` is keyed by its id.
    """

    # Each FSM module sets this once its table is built: the table names actions that
    # take the class, so it comes after the class.
    spec: ClassVar[Spec[Any, Any]]

    __slots__ = (
        "id",
        "key",
        "state",
        "request",
        "method",
        "destination",
        "transport",
        "reliable",
        "config",
        "timers",
        "interval",
        "last",
        "_due",
    )

    def __init__(
        self,
        tx_id: str,
        key: Any,
        request: Request,
        destination: Address,
        transport: Transport,
        config: TimerConfig,
    ) -> None:
        self.id = tx_id
        self.key = key
        self.state: S = self.spec.initial
        self.request = request
        self.method = request.method
        self.destination = destination
        self.transport = transport
        self.reliable = transport.reliable
        self.config = config
        self.timers: dict[TxInput, float] = {}
        self.interval = 0.0  # current retransmission interval (A, E or G)
        self.last: bytes | None = None  # last bytes sent (request or response)
        self._due: list[TxInput] = []
        self._init_own()

    def _init_own(self) -> None:
        """Set the subclass's own slots (none here); called at the end of __init__."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.state.name}>"

    @property
    def terminated(self) -> bool:
        return self.state.name == "TERMINATED"

    def step(self, inp: TxInput, now: float, message: Message | None = None) -> list[Effect]:
        """Feed one input through this FSM's table."""
        return self.spec.run(self, inp, now, message)

    def deadline(self) -> float | None:
        """The earliest armed timer, or None."""
        return min(self.timers.values()) if self.timers else None

    def arm(self, timer: TxInput, delay: float, now: float, out: list[Effect]) -> None:
        """Start `timer`; a zero delay fires it within the current step."""
        if delay <= 0:
            self._due.append(timer)
            return
        when = now + delay
        self.timers[timer] = when
        out.append(Armed(timer, when))

    def start_retransmitting(
        self, timer: TxInput, interval: float | None, now: float, out: list[Effect]
    ) -> None:
        """Arm a retransmission timer (A, E, G) at its first interval; None (a
        reliable transport) leaves it unarmed: those timers run over UDP only."""
        if interval is not None:
            self.interval = interval
            self.arm(timer, interval, now, out)

    def retransmit(self, timer: TxInput, interval: float, now: float, out: list[Effect]) -> None:
        """Send the last bytes again and re-arm `timer` after the next `interval`;
        never with a zero interval (the timer does not run over reliable transports)."""
        self.resend(out)
        self.interval = interval
        if interval > 0:
            when = now + interval
            self.timers[timer] = when
            out.append(Armed(timer, when))

    def send(self, data: bytes, out: list[Effect]) -> None:
        self.last = data
        out.append(Transmit(data))

    def resend(self, out: list[Effect]) -> None:
        if self.last is not None:
            out.append(Transmit(self.last))


class ClientTransaction(Transaction[S]):
    """ICT and NICT: keyed by the branch they put in the request (§17.1.3).

    `oversized`: the request went by TCP only because it is too large for UDP (RFC 3261
    §18.1.1); when TCP then fails, the destination takes no TCP and the request is too
    large for it."""

    __slots__ = ("oversized",)

    def __init__(
        self,
        tx_id: str,
        request: Request,
        destination: Address,
        transport: Transport,
        config: TimerConfig,
    ) -> None:
        self.oversized = False
        super().__init__(tx_id, tx_id, request, destination, transport, config)

    def send_request(
        self,
        now: float,
        *,
        retransmit: TxInput,
        interval: float | None,
        timeout: TxInput,
        after: float,
    ) -> list[Effect]:
        """Send the request; start `retransmit` at `interval` (None: not at all) and
        `timeout` to fire `after` seconds."""
        out: list[Effect] = []
        self.send(serialize(self.request), out)
        self.start_retransmitting(retransmit, interval, now, out)
        self.arm(timeout, after, now, out)
        return out


TxT = TypeVar("TxT", bound=Transaction[Any])
Action = Callable[[TxT, float, Message | None, list[Effect]], None]


class Spec(Generic[S, TxT]):
    """One FSM: its transition table, the timers each state keeps, its first and
    final states."""

    __slots__ = ("table", "keeps", "initial", "terminated", "name")

    def __init__(
        self,
        name: str,
        table: Mapping[tuple[S, TxInput], tuple[Action[TxT], S]],
        keeps: Mapping[S, frozenset[TxInput]],
        initial: S,
        terminated: S,
    ) -> None:
        self.name = name
        self.table = table
        self.keeps = keeps
        self.initial = initial
        self.terminated = terminated

    def run(self, tx: TxT, inp: TxInput, now: float, message: Message | None) -> list[Effect]:
        """Apply one input, then any zero-duration timers it armed."""
        out: list[Effect] = []
        self._apply(tx, inp, now, message, out)
        while tx._due:
            self._apply(tx, tx._due.pop(0), now, None, out)
        return out

    def _apply(
        self, tx: TxT, inp: TxInput, now: float, message: Message | None, out: list[Effect]
    ) -> None:
        entry = self.table.get((tx.state, inp))
        if entry is None:
            was = tx.state
            self._enter(tx, self.terminated)
            tx._due.clear()
            raise LocalProtocolError(f"{self.name}: {inp.value} not allowed in state {was.name}")
        action, new_state = entry
        if new_state is not tx.state:
            self._enter(tx, new_state)
        action(tx, now, message, out)

    def _enter(self, tx: TxT, state: S) -> None:
        keep = self.keeps[state]
        for timer in [t for t in tx.timers if t not in keep]:
            del tx.timers[timer]
        tx.state = state


# -- building tables --------------------------------------------------------------------


def rows(
    states: Iterable[S], inputs: Iterable[TxInput], action: Action[TxT], new_state: S
) -> dict[tuple[S, TxInput], tuple[Action[TxT], S]]:
    """The same transition for every one of `inputs` in every one of `states`."""
    inputs = tuple(inputs)
    return {(state, inp): (action, new_state) for state in states for inp in inputs}


# -- actions shared by several tables -------------------------------------------------


def ignore(tx: Any, now: float, message: Message | None, out: list[Effect]) -> None:
    """Absorb the input: nothing to send, nothing to tell the TU."""


def pass_up(tx: Any, now: float, message: Message | None, out: list[Effect]) -> None:
    if message is not None:
        out.append(PassUp(message))


def report_timeout(tx: Any, now: float, message: Message | None, out: list[Effect]) -> None:
    out.append(TimedOut())


def report_transport_error(tx: Any, now: float, message: Message | None, out: list[Effect]) -> None:
    out.append(TransportError())


def resend_last(
    tx: Transaction[Any], now: float, message: Message | None, out: list[Effect]
) -> None:
    tx.resend(out)


def as_response(message: Message | None) -> Response:
    if not isinstance(message, Response):
        raise LocalProtocolError(f"expected a response, got {message!r}")
    return message
