"""Identifiers: unpredictable in production (RFC 3261 §19.3), reproducible when seeded."""

from __future__ import annotations

import pytest

from sipstack import ids
from sipstack.ids import MAGIC_COOKIE, IdSource


def test_production_ids_come_from_the_operating_system(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Mersenne Twister's state is recoverable from 624 outputs; the OS generator's is not.
    calls: list[int] = []

    def urandom(n: int) -> bytes:
        calls.append(n)
        return bytes(range(256)) * (n // 256)

    monkeypatch.setattr(ids.os, "urandom", urandom)
    source = IdSource()
    assert source.tag() == bytes(range(6)).hex()
    assert source.call_id() == bytes(range(6, 22)).hex()
    assert source.branch() == MAGIC_COOKIE + bytes(range(22, 30)).hex()
    for _ in range(200):
        source.tag()
    assert len(calls) == 1, "one system call serves many ids"


def test_production_ids_are_unique_and_well_formed() -> None:
    source = IdSource()
    tags = {source.tag() for _ in range(10_000)}
    assert len(tags) == 10_000
    assert all(len(t) == 12 for t in tags)
    assert len(source.call_id()) == 32 and source.branch().startswith(MAGIC_COOKIE)


def test_seeded_ids_replay() -> None:
    a, b = IdSource(42), IdSource(42)
    assert [a.tag(), a.call_id(), a.branch()] == [b.tag(), b.call_id(), b.branch()]
    assert repr(a) == "IdSource(seed=42)"
