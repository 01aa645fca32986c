"""`LocationStore` and `StateStore` on one SQLite database (the embedded default).

The core calls this on every REGISTER, so each operation is one short statement on
one long-lived connection: WAL journal with synchronous=NORMAL (a commit is a WAL
append, fsync only at checkpoints; a power cut may lose the last commits but never
corrupts the file), statements cached by the sqlite3 module (prepared once, reused),
and autocommit, so a lone statement is its own transaction.

Storage knows nothing about SIP (ARCHITECTURE §5 rule 9).
"""

from __future__ import annotations

import os
import sqlite3

from ..registration.location import Binding

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bindings (
    aor TEXT NOT NULL,
    contact TEXT NOT NULL,
    source_host TEXT NOT NULL,
    source_port INTEGER NOT NULL,
    transport TEXT NOT NULL,
    expires_at REAL NOT NULL,
    call_id TEXT NOT NULL,
    cseq INTEGER NOT NULL,
    q REAL NOT NULL,
    instance TEXT,
    user_agent TEXT NOT NULL,
    PRIMARY KEY (aor, contact)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bindings_expiry ON bindings (expires_at);
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
"""

_COLUMNS = (
    "aor, contact, source_host, source_port, transport, expires_at, call_id, cseq, q,"
    " instance, user_agent"
)
_SELECT_AOR = (
    f"SELECT {_COLUMNS} FROM bindings WHERE aor = ? AND expires_at > ? ORDER BY q DESC, contact"
)
_SELECT_ALL = f"SELECT {_COLUMNS} FROM bindings WHERE expires_at > ? ORDER BY aor, q DESC, contact"
_UPSERT = f"INSERT OR REPLACE INTO bindings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_DELETE_ONE = "DELETE FROM bindings WHERE aor = ? AND contact = ?"
_DELETE_AOR = "DELETE FROM bindings WHERE aor = ?"
_PURGE = "DELETE FROM bindings WHERE expires_at <= ?"
_KV_GET = "SELECT value FROM kv WHERE namespace = ? AND key = ?"
_KV_PUT = "INSERT OR REPLACE INTO kv (namespace, key, value) VALUES (?, ?, ?)"
_KV_DELETE = "DELETE FROM kv WHERE namespace = ? AND key = ?"
_KV_ITEMS = "SELECT key, value FROM kv WHERE namespace = ? ORDER BY key"

_Row = tuple[str, str, str, int, str, float, str, int, float, str | None, str]


def _binding(row: _Row) -> Binding:
    aor, contact, host, port, transport, expires_at, call_id, cseq, q, instance, agent = row
    return Binding(
        aor=aor,
        contact=contact,
        source=(host, port),
        transport=transport,
        expires_at=expires_at,
        call_id=call_id,
        cseq=cseq,
        q=q,
        instance=instance,
        user_agent=agent,
    )


class SqliteStore:
    """Both storage Protocols on a SQLite file (`":memory:"` for a throwaway one)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # isolation_level=None: autocommit; every statement below is its own transaction.
        self._db = sqlite3.connect(path, isolation_level=None, cached_statements=64)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            self._db.close()
            raise RuntimeError(f"{path}: state schema {version} is newer than {_SCHEMA_VERSION}")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    # -- LocationStore -------------------------------------------------------------
    def bindings(self, aor: str, now: float) -> list[Binding]:
        return [_binding(row) for row in self._db.execute(_SELECT_AOR, (aor, now))]

    def save(self, binding: Binding) -> None:
        b = binding
        host, port = b.source
        self._db.execute(
            _UPSERT,
            (
                b.aor,
                b.contact,
                host,
                port,
                b.transport,
                b.expires_at,
                b.call_id,
                b.cseq,
                b.q,
                b.instance,
                b.user_agent,
            ),
        )

    def remove(self, aor: str, contact: str) -> None:
        self._db.execute(_DELETE_ONE, (aor, contact))

    def remove_all(self, aor: str) -> None:
        self._db.execute(_DELETE_AOR, (aor,))

    def purge_expired(self, now: float) -> int:
        return self._db.execute(_PURGE, (now,)).rowcount

    def all_bindings(self, now: float) -> list[Binding]:
        return [_binding(row) for row in self._db.execute(_SELECT_ALL, (now,))]

    # -- StateStore ----------------------------------------------------------------
    def get(self, namespace: str, key: str) -> str | None:
        row = self._db.execute(_KV_GET, (namespace, key)).fetchone()
        return None if row is None else str(row[0])

    def put(self, namespace: str, key: str, value: str) -> None:
        self._db.execute(_KV_PUT, (namespace, key, value))

    def delete(self, namespace: str, key: str) -> None:
        self._db.execute(_KV_DELETE, (namespace, key))

    def items(self, namespace: str) -> list[tuple[str, str]]:
        return [(str(k), str(v)) for k, v in self._db.execute(_KV_ITEMS, (namespace,))]
