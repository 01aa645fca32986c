"""Transports, addresses and the pure transport-layer rules (RFC 3261 §18, RFC 3581)."""

from __future__ import annotations

import enum

import msgspec

Address = tuple[str, int]


class Transport(enum.Enum):
    UDP = "UDP"
    TCP = "TCP"

    @property
    def reliable(self) -> bool:
        return self is not Transport.UDP


class Datagram(msgspec.Struct, frozen=True, gc=False):
    """Bytes to put on the wire: over UDP a datagram, over TCP a write on the connection."""

    data: bytes
    destination: Address
    transport: Transport
