"""The admin HTTP endpoint (`server.admin`): GET /status (JSON) and GET /metrics (Prometheus).

A deliberately tiny HTTP/1.0 responder on asyncio: read-only, one request per
connection, bounded input; anything else is 404/405. Bind it to loopback.
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from ..core import Switch
from .status import metrics, status

_MAX_REQUEST = 8192


async def serve_admin(host: str, port: int, switch: Switch) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        method, _, rest = head.decode("latin-1").partition(" ")
        path = rest.split(" ", 1)[0]
        now = time.time()
        if method != "GET":
            code, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
        elif path == "/status":
            code, ctype, body = (
                "200 OK",
                "application/json",
                msgspec.json.encode(status(switch, now)),
            )
        elif path == "/metrics":
            code, ctype, body = "200 OK", "text/plain; version=0.0.4", metrics(switch, now).encode()
        else:
            code, ctype, body = "404 Not Found", "text/plain", b"try /status or /metrics\n"
        writer.write(
            f"HTTP/1.0 {code}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        try:
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=_MAX_REQUEST)
