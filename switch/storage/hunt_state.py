"""Persistent hunt-group member state: blocks (*78/*79), dynamic logins, round-robin cursors.

All of it survives a restart (docs/BEHAVIOUR.md, "Persistence"), so it lives in the
StateStore (SQLite by default, a shared store for
several nodes); reads are served from memory, loaded once.
"""

from __future__ import annotations

from collections.abc import Callable

from .state_store import StateStore

_BLOCK = "hunt_block"
_LOGIN = "hunt_login"
_CURSOR = "hunt_cursor"


# login_changed(customer, group, extension): a dynamic login or logout took effect
LoginListener = Callable[[str, str, str], None]


class HuntState:
    def __init__(self, store: StateStore, login_changed: LoginListener | None = None) -> None:
        self._store = store
        self._login_changed = login_changed
        self._blocked = {key for key, _ in store.items(_BLOCK)}
        self._logins = {key for key, _ in store.items(_LOGIN)}
        self._cursors = {key: int(value) for key, value in store.items(_CURSOR) if value.isdigit()}

    # -- blocks --------------------------------------------------------------------------
    def blocked(self, customer: str, extension: str) -> bool:
        return f"{customer}/{extension}" in self._blocked

    def set_blocked(self, customer: str, extension: str, blocked: bool) -> None:
        self._flag(self._blocked, _BLOCK, f"{customer}/{extension}", blocked)

    # -- dynamic logins ------------------------------------------------------------------
    def logged_in(self, customer: str, group: str, extension: str) -> bool:
        return f"{customer}/{group}/{extension}" in self._logins

    def set_logged_in(self, customer: str, group: str, extension: str, on: bool) -> None:
        key = f"{customer}/{group}/{extension}"
        changed = (key in self._logins) != on
        self._flag(self._logins, _LOGIN, key, on)
        if changed and self._login_changed is not None:
            self._login_changed(customer, group, extension)

    def _flag(self, flags: set[str], namespace: str, key: str, on: bool) -> None:
        """A yes/no state kept in memory and, as a present or absent key, in the store."""
        if on:
            flags.add(key)
            self._store.put(namespace, key, "1")
        else:
            flags.discard(key)
            self._store.delete(namespace, key)

    # -- round robin -----------------------------------------------------------------------
    def cursor(self, customer: str, group: str) -> int:
        return self._cursors.get(f"{customer}/{group}", 0)

    def set_cursor(self, customer: str, group: str, value: int) -> None:
        key = f"{customer}/{group}"
        if self._cursors.get(key) != value:
            self._cursors[key] = value
            self._store.put(_CURSOR, key, str(value))
