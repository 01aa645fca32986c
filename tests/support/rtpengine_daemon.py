"""A real rtpengine daemon for a test: userspace forwarding only, on 127.0.0.1.

`make test` installs Debian's rtpengine-daemon. The daemon gets a control port and a
block of media ports of its own, runs in the foreground, and is killed with the test.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RTPENGINE = shutil.which("rtpengine")
HOST = "127.0.0.1"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.sendto(b"p d7:command4:pinge", (HOST, port))
            return sock.recv(100).startswith(b"p d6:result4:pong")
        except OSError:
            return False


class RtpengineDaemon:
    def __init__(self, ng_port: int, port_min: int, port_max: int, log: Path) -> None:
        self.ng_port = ng_port
        self.port_min = port_min
        self.port_max = port_max
        self.log = log
        self.pid = 0

    @property
    def ng_address(self) -> str:
        return f"udp:{HOST}:{self.ng_port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def rtpengine_daemon(
    workdir: Path, ports: int = 200, port_min: int | None = None
) -> Iterator[RtpengineDaemon]:
    """A daemon with `ports` media ports (from `port_min`, else a random block)."""
    if RTPENGINE is None:
        raise RuntimeError("rtpengine is not installed: `make test` installs rtpengine-daemon")
    workdir.mkdir(parents=True, exist_ok=True)
    ng_port = _free_udp_port()
    # media ports below Linux's ephemeral range, so no test socket takes one by chance
    if port_min is None:
        port_min = random.randrange(20000, 32000, 200)
    daemon = RtpengineDaemon(ng_port, port_min, port_min + ports - 1, workdir / "rtpengine.log")
    command = [
        RTPENGINE,
        "--foreground",
        # not Debian's /etc/rtpengine/rtpengine.conf: its fixed CLI, HTTP and media ports
        # would collide with any other rtpengine running
        "--config-file=none",
        "--table=-1",  # no kernel module: userspace forwarding
        f"--interface={HOST}",
        f"--listen-ng={HOST}:{ng_port}",
        # its own CLI port: the default (2224) is taken by any other rtpengine running
        f"--listen-cli={HOST}:{_free_tcp_port()}",
        f"--port-min={daemon.port_min}",
        f"--port-max={daemon.port_max}",
        f"--pidfile={workdir / 'rtpengine.pid'}",
        "--log-stderr",
        "--log-level=6",
        "--delete-delay=0",
    ]
    with daemon.log.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    daemon.pid = proc.pid
    try:
        deadline = time.monotonic() + 10
        while not _ping(ng_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rtpengine did not start:\n{daemon.log_text()[-2000:]}")
            time.sleep(0.05)
        yield daemon
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
