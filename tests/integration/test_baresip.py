"""baresip 1.0 (Debian's) as a real phone against the switch on its default digest settings.

baresip registers as acme 201, calls a SIPp phone (205) that answers, hangs up, and is
called by a SIPp caller (202) whose call it answers by itself (`answermode=auto`); the
caller hangs up. The switch runs on examples/pbx.yaml (the `make run` configuration)
with only its listen address and state_dir changed, so the digest challenges are the
defaults. Everything runs on 127.0.0.1: baresip's SIP (`sip_listen`), its SDP address
(`net_interface 127.0.0.1`), its DNS server (nothing resolves: the outbound proxy is an
address) and its control socket (ctrl_tcp, JSON in netstrings, used to dial and hang up).

The defect behind this test: libre 1.1 (baresip 1.0's SIP library) walks every
WWW-Authenticate of a 401 and gives up on the whole authentication with ENOSYS
("Register: Function not implemented") as soon as one challenge is not MD5. The switch
used to offer MD5 and SHA-256 side by side, so baresip never registered; the default is
now MD5 only. `make test` installs baresip (Debian package baresip-core).
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import struct
import subprocess
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import (
    HOST,
    PASSWORDS,
    REPO_ROOT,
    SippResult,
    SwitchProcess,
    dial,
    free_port,
    start_phones,
    start_switch,
)

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

BARESIP = shutil.which("baresip")
MODULES = Path("/usr/lib/baresip/modules")
DOMAIN = "acme.test"
BARESIP_EXT = "201"  # Alice in examples/pbx.yaml
CALLEE_EXT = "205"  # Lobby: no mailbox, so no message-waiting NOTIFY reaches SIPp
CALLER_EXT = "202"

requires_baresip = pytest.mark.skipif(
    BARESIP is None,
    reason="baresip is not installed (Debian package baresip-core; `make test` installs it)",
)


# ---------------------------------------------------------------------------------------
# baresip driven through ctrl_tcp


@dataclass
class Baresip:
    """A baresip process with its config directory; `command` talks to ctrl_tcp."""

    confdir: Path
    sip_port: int
    ctrl_port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    _sock: socket.socket | None = None
    _buf: bytes = b""

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def connect(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = socket.create_connection((HOST, self.ctrl_port), timeout=1.0)
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"baresip control socket never opened:\n{self.log()[-4000:]}"
                    ) from None
                time.sleep(0.05)

    def _read_netstring(self, timeout: float) -> dict[str, Any] | None:
        assert self._sock is not None
        deadline = time.monotonic() + timeout
        while True:
            head, colon, rest = self._buf.partition(b":")
            if colon:
                size = int(head)
                if len(rest) > size:  # payload and the trailing ","
                    payload, self._buf = rest[:size], rest[size + 1 :]
                    message: dict[str, Any] = json.loads(payload)
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._sock.settimeout(min(left, 0.5))
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return None
            self._buf += chunk

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Run a baresip (menu) command; its response. Events seen meanwhile are kept."""
        assert self._sock is not None
        token = uuid.uuid4().hex[:8]
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._sock.sendall(str(len(body)).encode() + b":" + body + b",")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read_netstring(deadline - time.monotonic())
            if message is None:
                break
            if message.get("response") and message.get("token") == token:
                return message
            if message.get("event"):
                self.events.append(message)
        raise AssertionError(f"baresip gave no answer to {command!r}:\n{self.log()[-4000:]}")

    def wait_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """Until ctrl_tcp reports an event of type `kind` (CALL_ESTABLISHED, ...)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("type") == kind:
                    self.events.remove(event)
                    return event
            left = deadline - time.monotonic()
            message = self._read_netstring(left) if left > 0 else None
            if message is None and time.monotonic() >= deadline:
                raise AssertionError(
                    f"baresip: no {kind} within {timeout} s (events: {self.events}):\n"
                    + self.log()[-4000:]
                )
            if message is None:
                time.sleep(0.02)  # the control connection closed: wait out the deadline
            elif message.get("event"):
                self.events.append(message)

    def stop(self) -> None:
        if self.proc.poll() is None and self._sock is not None:
            try:
                self.command("quit", timeout=1.0)
            except (AssertionError, OSError):
                pass
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        try:
            self.proc.wait(3.0)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def baresip_config(confdir: Path, *, sip_port: int, ctrl_port: int, switch_port: int) -> None:
    """A config directory for one account, needing no sound card and no network but lo."""
    confdir.mkdir(parents=True, exist_ok=True)
    rtp_low = 20000 + (sip_port % 20000)
    lines = {
        "poll_method": "epoll",
        "sip_listen": f"{HOST}:{sip_port}",
        "net_interface": HOST,  # SDP c= 127.0.0.1 (default: the first non-loopback address)
        "dns_server": f"{HOST}:53",
        "call_local_timeout": "120",
        "call_max_calls": "4",
        "audio_player": f"aufile,{confdir / 'heard.wav'}",
        "audio_source": f"aufile,{confdir / 'tone.wav'}",
        "audio_alert": f"aufile,{confdir / 'alert.wav'}",
        "audio_level": "no",
        "rtp_ports": f"{rtp_low}-{rtp_low + 99}",
        "module_path": str(MODULES),
        "ctrl_tcp_listen": f"{HOST}:{ctrl_port}",
    }
    text = "".join(f"{key}\t\t{value}\n" for key, value in lines.items())
    text += "".join(f"module\t\t\t{name}\n" for name in ("g711.so", "aufile.so", "ctrl_tcp.so"))
    text += "module_app\t\taccount.so\nmodule_app\t\tmenu.so\n"
    (confdir / "config").write_text(text, encoding="utf-8")
    (confdir / "accounts").write_text(
        f"<sip:{BARESIP_EXT}@{DOMAIN}>;auth_pass={PASSWORDS[BARESIP_EXT]};"
        f'outbound="sip:{HOST}:{switch_port};transport=udp";regint=3600;answermode=auto\n',
        encoding="utf-8",
    )
    (confdir / "contacts").write_text("", encoding="utf-8")
    write_tone(confdir / "tone.wav")


def write_tone(path: Path, hz: float = 440.0, seconds: float = 2.0, rate: int = 8000) -> None:
    """A mono 16-bit WAV at 8 kHz for aufile to play (ausine runs at 48 kHz only)."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * n / rate)))
        for n in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def start_baresip(workdir: Path, switch_port: int) -> Baresip:
    confdir = workdir / "baresip"
    sip_port, ctrl_port = free_port(), free_port()
    baresip_config(confdir, sip_port=sip_port, ctrl_port=ctrl_port, switch_port=switch_port)
    log_path = workdir / "baresip.log"
    assert BARESIP is not None
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [BARESIP, "-f", str(confdir), "-s"],  # -s: SIP trace into the log
            cwd=confdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    phone = Baresip(confdir, sip_port, ctrl_port, proc, log_path)
    phone.connect()
    return phone


# ---------------------------------------------------------------------------------------
# fixtures


def pbx_config(port: int, state_dir: Path) -> dict[str, Any]:
    """examples/pbx.yaml (what `make run` loads) on a free loopback port: server.auth
    stays unset, so the switch offers its default digest challenges."""
    config: dict[str, Any] = yaml.safe_load(
        (REPO_ROOT / "examples" / "pbx.yaml").read_text(encoding="utf-8")
    )
    config["server"]["listen"] = [f"udp:{HOST}:{port}", f"tcp:{HOST}:{port}"]
    config["server"]["state_dir"] = str(state_dir)
    assert "auth" not in config["server"]
    return config


@pytest.fixture
def pbx(tmp_path: Path, sipp_required: None) -> Iterator[SwitchProcess]:
    port = free_port()
    proc = start_switch(
        tmp_path / "switch",
        config=pbx_config(port, tmp_path / "switch" / "state"),
        port=port,
    )
    try:
        yield proc
    finally:
        proc.stop()
        (tmp_path / "switch" / "switch.log").write_text(proc.log_text() + "\n", encoding="utf-8")


@pytest.fixture
def baresip(tmp_path: Path, pbx: SwitchProcess) -> Iterator[Baresip]:
    phone = start_baresip(tmp_path, pbx.port)
    try:
        yield phone
    finally:
        phone.stop()


def wait_registration(switch: SwitchProcess, phone: Baresip, timeout: float = 5.0) -> None:
    """Until the switch logs a 200 registrar.update binding baresip's contact."""
    contact = f"@{HOST}:{phone.sip_port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in switch.events():
            if (
                event.get("event") == "registrar.update"
                and event.get("extension") == BARESIP_EXT
                and event.get("status") == 200
                and any(contact in c for c in event.get("contacts", []))
            ):
                return
        if phone.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(
        f"baresip did not register within {timeout} s\nbaresip:\n{phone.log()[-4000:]}"
        f"\nswitch:\n{switch.log_text()[-4000:]}"
    )


# ---------------------------------------------------------------------------------------
# tests


@requires_baresip
def test_baresip_registers_with_default_challenges(pbx: SwitchProcess, baresip: Baresip) -> None:
    wait_registration(pbx, baresip)
    log = baresip.log()
    # the challenge on the wire carried MD5 only, and baresip answered it
    challenges = [ln for ln in log.splitlines() if ln.startswith("WWW-Authenticate:")]
    assert challenges and all("algorithm=MD5" in c for c in challenges), challenges
    assert "Authorization: Digest" in log
    assert f"{BARESIP_EXT}@{DOMAIN}: {{0/UDP/v4}} 200 OK" in log, log[-4000:]
    assert "Function not implemented" not in log


@requires_baresip
def test_baresip_calls_and_is_called(pbx: SwitchProcess, baresip: Baresip, tmp_path: Path) -> None:
    sipp_dir = tmp_path / "sipp"
    wait_registration(pbx, baresip)

    # baresip -> 205 (SIPp answers after 300 ms); baresip hangs up
    (callee,) = start_phones(pbx, sipp_dir, [(CALLEE_EXT, PASSWORDS[CALLEE_EXT])])
    answer = baresip.command("dial", f"sip:{CALLEE_EXT}@{DOMAIN}")
    assert answer.get("ok"), answer
    baresip.wait_event("CALL_ESTABLISHED")
    callee.handle.wait_for("ACK")
    time.sleep(0.3)
    assert baresip.command("hangup").get("ok")
    result = callee.wait(10)
    result.assert_ok()
    assert result.sent("INVITE", status=200), result.describe()
    assert result.received("BYE"), result.describe()
    assert result.sent("BYE", status=200), result.describe()
    baresip.wait_event("CALL_CLOSED")

    # 202 (SIPp) -> 201: baresip answers by itself; the caller hangs up after 300 ms
    caller = dial(pbx, sipp_dir, CALLER_EXT, PASSWORDS[CALLER_EXT], BARESIP_EXT)
    assert isinstance(caller, SippResult)
    caller.assert_ok()
    ok = caller.received("INVITE", status=200)
    assert ok and "m=audio" in ok[-1].body, caller.describe()
    assert caller.sent("BYE"), caller.describe()
    assert caller.received("BYE", status=200), caller.describe()
    closed = baresip.wait_event("CALL_CLOSED")
    assert closed, closed
