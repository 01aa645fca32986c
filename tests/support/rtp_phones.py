"""Two RTP "phones" on plain UDP sockets, driven from the event loop the relay runs on
(no threads: the relay under test and the phones share one loop)."""

from __future__ import annotations

import asyncio
import socket
import struct


def rtp_packet(seq: int, payload: bytes) -> bytes:
    # RFC 3550 §5.1: V=2, PT=0 (PCMU)
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + payload


def phone_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


async def _recv(sock: socket.socket, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recv(sock, 2048), timeout)


async def drain(sock: socket.socket) -> None:
    """Read and forget what has arrived, until 0.2 s pass quietly."""
    try:
        while True:
            await _recv(sock, 0.2)
    except TimeoutError:
        pass


async def exchange(
    phone_a: socket.socket,
    relay_for_a: tuple[str, int],
    phone_b: socket.socket,
    relay_for_b: tuple[str, int],
) -> tuple[list[bytes], list[bytes]]:
    """Each phone sends first (so the relay latches on to it), then both talk; the
    payloads each one heard, in order."""
    loop = asyncio.get_running_loop()
    for seq in range(3):
        await loop.sock_sendto(phone_a, rtp_packet(seq, b"from-a-%d" % seq), relay_for_a)
        await loop.sock_sendto(phone_b, rtp_packet(seq, b"from-b-%d" % seq), relay_for_b)
    await drain(phone_a)
    await drain(phone_b)
    heard_a: list[bytes] = []
    heard_b: list[bytes] = []
    for seq in range(3, 10):
        await loop.sock_sendto(phone_a, rtp_packet(seq, b"from-a-%d" % seq), relay_for_a)
        heard_b.append((await _recv(phone_b, 1.0))[12:])
        await loop.sock_sendto(phone_b, rtp_packet(seq, b"from-b-%d" % seq), relay_for_b)
        heard_a.append((await _recv(phone_a, 1.0))[12:])
    return heard_a, heard_b
