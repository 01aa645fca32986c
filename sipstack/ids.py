"""Identifier generation behind one injectable, seedable source.

RFC 3261 §8.1.1.7: "The branch ID inserted by an element compliant with this
specification MUST always begin with the characters "z9hG4bK"." and "The
branch parameter value MUST be unique across space and time for all requests
sent by the UA."  §19.3: tags and Call-IDs "MUST be globally unique and
cryptographically random with at least 32 bits of randomness".

The source is a `random.Random` seeded explicitly (tests) or from the OS
(production); the seed is kept and shown in `repr` so a failing test can be
replayed.
"""

from __future__ import annotations

import random

MAGIC_COOKIE = "z9hG4bK"


class IdSource:
    """Branch, tag, Call-ID and nonce generator; `IdSource(seed)` is reproducible."""

    __slots__ = ("seed", "_random")

    def __init__(self, seed: int | None = None) -> None:
        if seed is None:
            seed = random.SystemRandom().getrandbits(64)
        self.seed = seed
        self._random = random.Random(seed)

    def __repr__(self) -> str:
        return f"IdSource(seed={self.seed})"

    def _hex(self, bits: int) -> str:
        return f"{self._random.getrandbits(bits):0{bits // 4}x}"

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
