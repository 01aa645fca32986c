"""The small persistent state of the features, as a namespaced key/value Protocol.

Hunt-group logins, hunt blocks, round-robin cursors and call records: values are strings,
callers encode what they need. `memory.MemoryStore` and `sqlite.SqliteStore` implement
it beside `registration.location.LocationStore`; a store shared by several nodes
implements the same Protocol.
"""

from __future__ import annotations

from typing import Protocol


class StateStore(Protocol):
    """Small persistent key/value state, grouped by namespace (hunt logins, cursors...)."""

    def get(self, namespace: str, key: str) -> str | None: ...

    def put(self, namespace: str, key: str, value: str) -> None: ...

    def delete(self, namespace: str, key: str) -> None: ...

    def items(self, namespace: str) -> list[tuple[str, str]]:
        """Every (key, value) of the namespace, ordered by key."""
        ...
