"""Two RTP "phones" on plain blocking sockets, for the relay tests."""

from __future__ import annotations

import socket
import struct


def rtp_packet(seq: int, payload: bytes) -> bytes:
    # RFC 3550 §5.1: V=2, PT=0 (PCMU)
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + payload


def exchange(
    phone_a: socket.socket,
    relay_for_a: tuple[str, int],
    phone_b: socket.socket,
    relay_for_b: tuple[str, int],
) -> tuple[list[bytes], list[bytes]]:
    """Each phone sends first (so the relay latches on to it), then both talk."""
    for seq in range(3):
        phone_a.sendto(rtp_packet(seq, b"from-a-%d" % seq), relay_for_a)
        phone_b.sendto(rtp_packet(seq, b"from-b-%d" % seq), relay_for_b)
    drain(phone_a)
    drain(phone_b)
    heard_a: list[bytes] = []
    heard_b: list[bytes] = []
    for seq in range(3, 10):
        phone_a.sendto(rtp_packet(seq, b"from-a-%d" % seq), relay_for_a)
        heard_b.append(phone_b.recv(2048)[12:])
        phone_b.sendto(rtp_packet(seq, b"from-b-%d" % seq), relay_for_b)
        heard_a.append(phone_a.recv(2048)[12:])
    return heard_a, heard_b


def drain(sock: socket.socket) -> None:
    sock.settimeout(0.2)
    try:
        while True:
            sock.recv(2048)
    except TimeoutError:
        pass
    finally:
        sock.settimeout(1.0)
