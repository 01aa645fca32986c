"""LocationStore and StateStore implementations against a dict model.

Requirements covered: both stores behave alike (RuleBasedStateMachine over save /
remove / remove_all / purge / advancing time), SQLite persistence across close and
reopen, purge counts, the key/value namespaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from switch.registration.location import Binding, LocationStore
from switch.storage import MemoryStore, SqliteStore
from switch.storage.state_store import StateStore


def binding(
    aor: str = "201@acme.example",
    contact: str = "sip:201@10.0.0.5:5060",
    expires_at: float = 1000.0,
    **kw: object,
) -> Binding:
    fields: dict[str, object] = {
        "source": ("10.0.0.5", 5060), "transport": "UDP", "call_id": "c1", "cseq": 1,
    }  # fmt: skip
    fields.update(kw)
    return Binding(aor=aor, contact=contact, expires_at=expires_at, **fields)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SqliteStore]:
    made: MemoryStore | SqliteStore
    made = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "state.db")
    yield made
    made.close()


def test_protocols_are_satisfied(store: MemoryStore | SqliteStore) -> None:
    location: LocationStore = store
    state: StateStore = store
    assert location.all_bindings(0.0) == [] and state.items("ns") == []


def test_save_replace_remove(store: MemoryStore | SqliteStore) -> None:
    first = binding(q=0.5, instance="<urn:uuid:1>", user_agent="pyVoIP 1.6.8")
    store.save(first)
    assert store.bindings("201@acme.example", 0.0) == [first]
    newer = binding(cseq=2, expires_at=2000.0, source=("10.0.0.6", 5062), transport="TCP")
    store.save(newer)
    assert store.bindings("201@acme.example", 0.0) == [newer]
    store.remove("201@acme.example", newer.contact)
    assert store.bindings("201@acme.example", 0.0) == []
    store.remove("201@acme.example", "sip:nothing@here")  # removing nothing is fine


def test_order_and_expiry_filter(store: MemoryStore | SqliteStore) -> None:
    low = binding(contact="sip:a@h", q=0.1)
    high = binding(contact="sip:b@h", q=0.9)
    gone = binding(contact="sip:c@h", expires_at=10.0)
    other = binding(aor="202@acme.example", contact="sip:202@h")
    for b in (low, gone, high, other):
        store.save(b)
    assert store.bindings("201@acme.example", 10.0) == [high, low]
    assert store.all_bindings(10.0) == [high, low, other]
    assert len(store.all_bindings(5.0)) == 4
    store.remove_all("201@acme.example")
    assert store.all_bindings(0.0) == [other]


def test_purge(store: MemoryStore | SqliteStore) -> None:
    for i in range(5):
        store.save(binding(contact=f"sip:{i}@h", expires_at=float(i)))
    assert store.purge_expired(2.0) == 3
    assert [b.contact for b in store.all_bindings(0.0)] == ["sip:3@h", "sip:4@h"]
    assert store.purge_expired(2.0) == 0


def test_key_value(store: MemoryStore | SqliteStore) -> None:
    assert store.get("hunt_login", "acme/600/201") is None
    store.put("hunt_login", "acme/600/201", "1")
    store.put("hunt_login", "acme/600/202", "1")
    store.put("rr_cursor", "acme/600", "3")
    store.put("rr_cursor", "acme/600", "4")
    assert store.get("rr_cursor", "acme/600") == "4"
    assert store.items("hunt_login") == [("acme/600/201", "1"), ("acme/600/202", "1")]
    store.delete("hunt_login", "acme/600/201")
    store.delete("hunt_login", "absent")
    assert store.items("hunt_login") == [("acme/600/202", "1")]
    assert store.items("empty") == []


def test_sqlite_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = SqliteStore(path)
    kept = binding(q=0.25, instance="<urn:uuid:abc>", user_agent="Yealink", expires_at=1e9)
    db.save(kept)
    db.save(binding(contact="sip:old@h", expires_at=5.0))
    db.put("hunt_block", "acme/201", "1")
    db.close()
    db = SqliteStore(path)
    try:
        assert db.all_bindings(10.0) == [kept]
        assert db.purge_expired(10.0) == 1
        assert db.get("hunt_block", "acme/201") == "1"
        mode = db._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    finally:
        db.close()
    db = SqliteStore(path)
    assert len(db.all_bindings(0.0)) == 1
    db.close()


def test_sqlite_refuses_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = SqliteStore(path)
    db._db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(RuntimeError):
        SqliteStore(path)


# -- stateful property: every store equals a dict model ---------------------------------

AORS = st.sampled_from(["201@acme.example", "202@acme.example", "201@globex.example"])
CONTACTS = st.sampled_from([f"sip:u@10.0.0.{i}:5060" for i in range(4)])


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.stores: list[MemoryStore | SqliteStore] = [MemoryStore(), SqliteStore(":memory:")]
        self.model: dict[tuple[str, str], Binding] = {}
        self.kv: dict[tuple[str, str], str] = {}
        self.now = 0.0

    @rule(aor=AORS, contact=CONTACTS, ttl=st.integers(1, 100), q=st.sampled_from([0.1, 0.5, 1.0]))
    def save(self, aor: str, contact: str, ttl: int, q: float) -> None:
        b = binding(aor=aor, contact=contact, expires_at=self.now + ttl, q=q)
        self.model[(aor, contact)] = b
        for s in self.stores:
            s.save(b)

    @rule(aor=AORS, contact=CONTACTS)
    def remove(self, aor: str, contact: str) -> None:
        self.model.pop((aor, contact), None)
        for s in self.stores:
            s.remove(aor, contact)

    @rule(aor=AORS)
    def remove_all(self, aor: str) -> None:
        self.model = {k: v for k, v in self.model.items() if k[0] != aor}
        for s in self.stores:
            s.remove_all(aor)

    @rule(step=st.integers(0, 60))
    def advance(self, step: int) -> None:
        self.now += step

    @rule()
    def purge(self) -> None:
        expired = [k for k, v in self.model.items() if v.expires_at <= self.now]
        for k in expired:
            del self.model[k]
        for s in self.stores:
            assert s.purge_expired(self.now) == len(expired)

    @rule(
        ns=st.sampled_from(["a", "b"]),
        key=st.sampled_from(["x", "y"]),
        value=st.text(st.characters(codec="utf-8")),
    )
    def put(self, ns: str, key: str, value: str) -> None:
        self.kv[(ns, key)] = value
        for s in self.stores:
            s.put(ns, key, value)

    @rule(ns=st.sampled_from(["a", "b"]), key=st.sampled_from(["x", "y"]))
    def delete(self, ns: str, key: str) -> None:
        self.kv.pop((ns, key), None)
        for s in self.stores:
            s.delete(ns, key)

    @invariant()
    def agree(self) -> None:
        live = sorted(
            (b for b in self.model.values() if b.expires_at > self.now),
            key=lambda b: (b.aor, -b.q, b.contact),
        )
        for s in self.stores:
            assert s.all_bindings(self.now) == live
            for aor in ("201@acme.example", "202@acme.example"):
                assert s.bindings(aor, self.now) == [b for b in live if b.aor == aor]
            for ns in ("a", "b"):
                assert s.items(ns) == sorted((k, v) for (n, k), v in self.kv.items() if n == ns)

    def teardown(self) -> None:
        for s in self.stores:
            s.close()


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
