"""The embedded relay in a process of its own (`server.media.relay: process`).

Relaying RTP costs a Python process about as much CPU as signalling does at the rates the
switch is built for (benchmarks/RESULTS.md): when both must run at full load, they need
a core each. The switch then starts this daemon as a child process and drives it exactly
as it drives rtpengine, over the ng protocol (`offer`, `answer`, `delete`, `query`, `ping`)
on a loopback UDP port, through `rtpengine.RtpengineRelay`. The relaying is the embedded
relay's own (`relay_sockets.EmbeddedRelay`: the same SDP rewriting and latching).

Parties are told apart as the embedded relay does: the tag of a call's first offer is the
caller's; any other tag (each fork's to-tag) is the callee side.

    python -m switch.shell.relayd --listen 127.0.0.1:PORT --host H --ports LOW-HIGH
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import time
from collections import OrderedDict
from typing import Any

import structlog
import uvloop

from switch.media.port_pool import PortPool
from switch.media.relay import Side
from switch.ports import RelayParty

from .logconfig import configure_logging, flush_logs
from .relay_sockets import EmbeddedRelay
from .rtpengine import NgValue, Reply, RtpengineError, decode_datagram, encode_datagram

log = structlog.get_logger("relayd")

# Replies kept by cookie, so that a command the switch sends again after a lost reply is
# answered again, not carried out twice (what rtpengine does too)
REMEMBERED_REPLIES = 4096


class RelayDaemon(asyncio.DatagramProtocol):
    def __init__(self, relay: EmbeddedRelay) -> None:
        self.relay = relay
        self.transport: asyncio.DatagramTransport | None = None
        self._replies: OrderedDict[str, bytes] = OrderedDict()
        self._tags: dict[str, dict[str, Side]] = {}  # call-id -> tag -> side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            cookie, command = decode_datagram(data)
        except RtpengineError as exc:
            log.warning("relayd.bad_command", error=str(exc))
            return
        reply = self._replies.get(cookie)
        if reply is None:
            reply = encode_datagram(cookie, self.handle(command))
            self._replies[cookie] = reply
            if len(self._replies) > REMEMBERED_REPLIES:
                self._replies.popitem(last=False)
        if self.transport is not None:
            self.transport.sendto(reply, addr)

    def handle(self, command: Reply) -> dict[str, NgValue]:
        name = command.get("command")
        call_id = str(command.get("call-id", ""))
        if name == "ping":
            return {"result": "pong"}
        if name in ("offer", "answer"):
            return self._anchor(call_id, command, offer=name == "offer")
        if name == "delete":
            self.relay.close(call_id)
            self._tags.pop(call_id, None)
            return {"result": "ok"}
        if name == "query":
            return self._query(call_id)
        return {"result": "error", "error-reason": f"unknown command {name!r}"}

    def _anchor(self, call_id: str, command: Reply, *, offer: bool) -> dict[str, NgValue]:
        tag = str(command.get("from-tag" if offer else "to-tag", ""))
        tags = self._tags.setdefault(call_id, {})
        side = tags.setdefault(tag, Side.CALLEE if tags else Side.CALLER)
        received = command.get("received-from")
        ip = str(received[1]) if isinstance(received, list) and len(received) == 2 else ""
        party = RelayParty(side, tag, None, (ip, 0))
        results: list[tuple[bytes, int]] = []
        sdp = str(command.get("sdp", "")).encode()
        self.relay.anchor(call_id, party, sdp, offer, lambda b, s, _: results.append((b, s)), 0.0)
        body, status = results[0]  # the embedded relay answers at once
        if status != 200:
            reason = "no free port" if status == 503 else "no audio stream in the SDP"
            return {"result": "error", "error-reason": reason}
        return {"result": "ok", "sdp": body}

    def _query(self, call_id: str) -> dict[str, NgValue]:
        call = self.relay.calls.get(call_id)
        if call is None:
            return {"result": "error", "error-reason": "Unknown call-id"}
        now, wall = asyncio.get_running_loop().time(), time.time()
        tags: dict[str, NgValue] = {}
        for tag, side in self._tags.get(call_id, {}).items():
            heard = call.rtp.silent_since(side)
            last = int(wall - (now - heard)) if heard is not None else 0
            stream: dict[str, NgValue] = {"flags": ["RTP"], "last packet": last}
            tags[tag] = {"tag": tag, "medias": [{"streams": [stream]}]}
        return {"result": "ok", "tags": tags}


async def serve(listen: tuple[str, int], relay: EmbeddedRelay) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: RelayDaemon(relay), local_addr=listen
    )
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    log.info("relayd.ready", listen=f"{listen[0]}:{listen[1]}")
    flush_logs()
    try:
        await stopped.wait()
    finally:
        relay.close_all()
        transport.close()
        log.info("relayd.stopped")
        flush_logs()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT of the ng control socket")
    parser.add_argument("--host", required=True, help="the address the RTP sockets bind")
    parser.add_argument("--advertise", default=None, help="the address named in SDP")
    parser.add_argument("--ports", required=True, help="LOW-HIGH, the RTP ports it may use")
    parser.add_argument("--log-format", default="json", choices=("json", "console"))
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    configure_logging(args.log_format, args.log_level)
    host, _, port = args.listen.rpartition(":")
    low, _, high = args.ports.partition("-")
    relay = EmbeddedRelay(args.host, PortPool(int(low), int(high)), args.advertise)
    uvloop.run(serve((host.strip("[]"), int(port)), relay))


if __name__ == "__main__":
    main()


class RelayProcess:
    """The relay daemon as the switch's child: started with the switch, stopped with it."""

    def __init__(self, process: asyncio.subprocess.Process, ng_port: int) -> None:
        self.process = process
        self.ng_port = ng_port

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 5.0)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def start_relay_process(host: str, advertise: str, ports: tuple[int, int]) -> RelayProcess:
    """Start the daemon on a free loopback port for its ng socket, RTP on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        ng_port = int(probe.getsockname()[1])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "switch.shell.relayd",
        "--listen",
        f"127.0.0.1:{ng_port}",
        "--host",
        host,
        "--advertise",
        advertise,
        "--ports",
        f"{ports[0]}-{ports[1]}",
        stdin=asyncio.subprocess.DEVNULL,
    )
    log.info("relayd.started", pid=process.pid, ng_port=ng_port, ports=f"{ports[0]}-{ports[1]}")
    return RelayProcess(process, ng_port)
