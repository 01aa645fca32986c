"""Per-extension call state as the switch sees it: idle, ringing, or on a call.

The switch is a B2BUA, so it knows every call an extension is in without asking
the phone (Asterisk's device state without the polling). Hunt groups skip members
that are `in_call` here; pickup looks for extensions that are `ringing`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

ExtensionKey = tuple[str, str]  # (customer name, extension number)


class LineState(enum.Enum):
    IDLE = "idle"
    RINGING = "ringing"
    IN_CALL = "in_call"


StateListener = Callable[[ExtensionKey, LineState, tuple[str, ...]], None]


class ExtensionStates:
    """Which calls ring on / are up on each extension; notifies a listener on every change."""

    __slots__ = ("_ringing", "_active", "_listener", "_answered")

    def __init__(
        self,
        listener: StateListener | None = None,
        answered: Callable[[ExtensionKey], None] | None = None,
    ) -> None:
        self._ringing: dict[ExtensionKey, dict[str, None]] = {}
        self._active: dict[ExtensionKey, dict[str, None]] = {}
        self._listener = listener  # every change of a line's state
        self._answered = answered  # a call the line made was answered (its state stays)

    def state(self, key: ExtensionKey) -> LineState:
        if self._active.get(key):
            return LineState.IN_CALL
        if self._ringing.get(key):
            return LineState.RINGING
        return LineState.IDLE

    def is_busy(self, key: ExtensionKey) -> bool:
        return bool(self._active.get(key))

    def calls(self, key: ExtensionKey) -> tuple[str, ...]:
        return (*self._active.get(key, {}), *self._ringing.get(key, {}))

    def ringing_calls(self, key: ExtensionKey) -> tuple[str, ...]:
        """Call ids ringing on `key`, oldest first (dicts keep insertion order)."""
        return tuple(self._ringing.get(key, {}))

    def ring(self, key: ExtensionKey, call_id: str) -> None:
        self._change(key, lambda: self._ringing.setdefault(key, {}).__setitem__(call_id, None))

    def stop_ringing(self, key: ExtensionKey, call_id: str) -> None:
        self._change(key, lambda: self._discard(self._ringing, key, call_id))

    def connect(self, key: ExtensionKey, call_id: str) -> None:
        def apply() -> None:
            self._discard(self._ringing, key, call_id)
            self._active.setdefault(key, {})[call_id] = None

        self._change(key, apply)

    def release(self, key: ExtensionKey, call_id: str) -> None:
        def apply() -> None:
            self._discard(self._ringing, key, call_id)
            self._discard(self._active, key, call_id)

        self._change(key, apply)

    def answered(self, key: ExtensionKey, call_id: str) -> None:
        """The call `key` made was answered: its line stays `in_call` (no state change to
        log), but the call's dialog is confirmed now, which a busy lamp shows."""
        if call_id in self._active.get(key, {}) and self._answered is not None:
            self._answered(key)

    def snapshot(self) -> dict[ExtensionKey, LineState]:
        keys = set(self._ringing) | set(self._active)
        return {k: self.state(k) for k in keys if self.state(k) is not LineState.IDLE}

    @staticmethod
    def _discard(table: dict[ExtensionKey, dict[str, None]], key: ExtensionKey, cid: str) -> None:
        calls = table.get(key)
        if calls is not None:
            calls.pop(cid, None)
            if not calls:
                del table[key]

    def _change(self, key: ExtensionKey, apply: Callable[[], None]) -> None:
        before = self.state(key)
        apply()
        after = self.state(key)
        if after is not before and self._listener is not None:
            self._listener(key, after, self.calls(key))
