"""Implementations of `registration.location.LocationStore` and `state_store.StateStore`.

- `memory.MemoryStore`: dicts, for pure tests;
- `sqlite.SqliteStore`: the embedded default, one SQLite file under `state_dir`.
"""

from __future__ import annotations

from .memory import MemoryStore
from .sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore"]
