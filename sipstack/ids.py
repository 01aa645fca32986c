"""Identifier generation behind one injectable source.

RFC 3261 §8.1.1.7: "The branch ID inserted by an element compliant with this
specification MUST always begin with the characters "z9hG4bK"." and "The
branch parameter value MUST be unique across space and time for all requests
sent by the UA."  §19.3: tags and Call-IDs "MUST be globally unique and
cryptographically random with at least 32 bits of randomness".

`IdSource()` draws from the operating system's generator (`os.urandom`), so nobody
who sees some of our branches, tags and Call-IDs can predict the next (a forged BYE or
CANCEL needs them). The bytes are fetched in batches: one system call per 256 ids
instead of one per id. `IdSource(seed)` is a reproducible Mersenne Twister for tests
only; its seed is shown in `repr` so a failing test can be replayed.
"""

from __future__ import annotations

import os
import random

MAGIC_COOKIE = "z9hG4bK"
_BATCH = 4096  # bytes of OS randomness fetched at once


class IdSource:
    """Branch, tag, Call-ID and nonce generator."""

    __slots__ = ("seed", "_random", "_pool", "_used")

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._random = random.Random(seed) if seed is not None else None
        self._pool = b""
        self._used = 0

    def __repr__(self) -> str:
        return f"IdSource(seed={self.seed})" if self.seed is not None else "IdSource(os.urandom)"

    def _bytes(self, n: int) -> bytes:
        if self._random is not None:
            return self._random.randbytes(n)
        if self._used + n > len(self._pool):
            self._pool = os.urandom(_BATCH)
            self._used = 0
        start = self._used
        self._used = start + n
        return self._pool[start : start + n]

    def _hex(self, bits: int) -> str:
        return self._bytes(bits // 8).hex()

    def branch(self) -> str:
        """'z9hG4bK' followed by 64 random bits (RFC 3261 §8.1.1.7)."""
        return MAGIC_COOKIE + self._hex(64)

    def tag(self) -> str:
        """A From/To tag: 48 random bits (RFC 3261 §19.3 asks for at least 32)."""
        return self._hex(48)

    def call_id(self) -> str:
        """A Call-ID: 128 random bits (RFC 3261 §8.1.1.4)."""
        return self._hex(128)

    def session_id(self) -> int:
        """An SDP o= session id (RFC 4566 §5.2: a numeric string, unique enough)."""
        return int(self._hex(40), 16)

    def nonce(self) -> str:
        """A digest nonce: 128 random bits as hex."""
        return self._hex(128)
