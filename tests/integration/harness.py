"""End-to-end harness: a real switch process on loopback and SIPp phones talking to it.

The switch is started the way an administrator starts it, through its command line
(docs/BEHAVIOUR.md#commands: `python -m switch run --config FILE --log-format json`), on a
configuration written from `make_config` with free ports and a `state_dir` of its own. SIPp
scenarios live in `tests/sipp/`; `run_sipp` runs one of them and returns its exit status
together with the message trace, so a test can assert what the phone saw.

A SIPp process is one phone. SIPp maps messages to its calls by Call-ID, and the
switch's INVITE to a callee has a Call-ID of its own, so a callee phone is
`uas_register.xml` (REGISTER, then wait) with the call handled by an out-of-call
scenario (`ooc=`): see `start_phone`.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "tests" / "sipp"
HOST = "127.0.0.1"

SIPP = shutil.which("sipp")

# ---------------------------------------------------------------------------------------
# ports


def free_port() -> int:
    """A port number free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((HOST, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


# ---------------------------------------------------------------------------------------
# configuration (key layout of tests/data/reference.yaml)

PASSWORDS = {
    "201": "alice-pw",
    "202": "bert-pw",
    "203": "maryanne-pw",
    "204": "jane-pw",
    "205": "lobby-pw",
}
"""acme's extensions and passwords, as in tests/data/reference.yaml."""


def extension(
    number: str, password: str, *, name: str | None = None, user_group: str = "staff", **more: Any
) -> dict[str, Any]:
    ext: dict[str, Any] = {
        "number": number,
        "name": name or f"Phone {number}",
        "password": password,
        "user_group": user_group,
    }
    ext.update(more)
    return ext


def customer(
    name: str,
    domain: str,
    extensions: Iterable[Mapping[str, Any]],
    *,
    access_code: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    cust: dict[str, Any] = {
        "name": name,
        "domain": domain,
        "user_groups": [{"name": "staff", "allow_pickup": True}],
        "extensions": [dict(e) for e in extensions],
    }
    if access_code is not None:
        cust["access_code"] = access_code
    cust.update(more)
    return cust


def default_customers() -> list[dict[str, Any]]:
    """acme with 201-205 (reference.yaml passwords) and globex with its own 201/202."""
    acme = customer(
        "acme",
        "acme.test",
        [extension(n, pw) for n, pw in PASSWORDS.items()],
        access_code="81",
    )
    globex = customer(
        "globex",
        "globex.test",
        [extension("201", "gina-pw"), extension("202", "hank-pw")],
        access_code="82",
    )
    return [acme, globex]


def make_config(
    *,
    port: int,
    state_dir: Path | str,
    customers: Sequence[Mapping[str, Any]] | None = None,
    customer_groups: Sequence[Mapping[str, Any]] | None = None,
    features: Mapping[str, Any] | None = None,
    transports: Sequence[str] = ("udp", "tcp"),
    digest_algorithms: Sequence[str] | None = None,
    server_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A configuration as a plain dict, ready for `yaml.safe_dump`.

    `digest_algorithms` orders the challenges. SIPp 3.6 (Debian's sip-tester) answers
    MD5 only and reads the first `algorithm=` of all the challenge headers joined, so
    MD5 must come first for it; `None` leaves the switch's default.
    """
    server: dict[str, Any] = {
        "listen": [f"{t}:{HOST}:{port}" for t in transports],
        "state_dir": str(state_dir),
    }
    if digest_algorithms is not None:
        server["auth"] = {"algorithms": list(digest_algorithms)}
    if server_extra:
        server.update(server_extra)
    config: dict[str, Any] = {"server": server}
    if features is not None:
        config["features"] = dict(features)
    if customer_groups is not None:
        config["customer_groups"] = [dict(g) for g in customer_groups]
    config["customers"] = [
        dict(c) for c in (customers if customers is not None else default_customers())
    ]
    return config


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------
# the switch process


def options_ping(host: str, port: int, timeout: float = 0.5) -> bytes | None:
    """Send one OPTIONS over UDP; the first datagram that comes back, or None."""
    branch = "z9hG4bK" + uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        local = sock.getsockname()[1]
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{local};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{HOST}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@{HOST}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        sock.settimeout(timeout)
        try:
            sock.sendto(msg, (host, port))
            data, _ = sock.recvfrom(65535)
        except OSError:  # timeout, or ICMP port unreachable before the switch listens
            return None
        return data


@dataclass
class SwitchProcess:
    """A `python -m switch run` subprocess; `logs` collects its stdout and stderr lines."""

    config_path: Path
    host: str
    port: int
    state_dir: Path
    workdir: Path
    proc: subprocess.Popen[str] | None = None
    logs: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "switch",
            "run",
            "--config",
            str(self.config_path),
            "--log-format",
            "json",
        ]

    def start(self, ready_timeout: float = 10.0) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.workdir,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=1,
        )
        self._readers = [
            threading.Thread(target=self._collect, args=(stream,), daemon=True)
            for stream in (self.proc.stdout, self.proc.stderr)
        ]
        for reader in self._readers:
            reader.start()
        self.wait_ready(ready_timeout)

    def _collect(self, stream: Any) -> None:
        for line in stream:
            self.logs.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float) -> None:
        """Until an OPTIONS over UDP gets any answer; fails with the logs if it never does."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the readers drain
                raise RuntimeError(
                    f"switch exited with {self.proc.returncode} before answering:\n"
                    + self.log_text()
                )
            if options_ping(self.host, self.port, timeout=0.3) is not None:
                return
        self.stop()
        raise RuntimeError(f"switch did not answer OPTIONS within {timeout} s:\n" + self.log_text())

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; the exit status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for reader in self._readers:
            reader.join(2.0)
        return proc.returncode

    def restart(self) -> None:
        """Stop and start again on the same configuration and state_dir."""
        self.stop()
        self.logs.append("---- restart ----")
        self.start()

    def reload(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def log_text(self) -> str:
        return "\n".join(self.logs)

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines, parsed (anything else is skipped)."""
        out = []
        for line in list(self.logs):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                out.append(event)
        return out


def start_switch(
    workdir: Path,
    *,
    config: Mapping[str, Any] | None = None,
    port: int | None = None,
    **config_kw: Any,
) -> SwitchProcess:
    """Write a configuration under `workdir` (free port, state_dir inside) and start it."""
    workdir.mkdir(parents=True, exist_ok=True)
    state_dir = workdir / "state"
    if config is None:
        port = port or free_port()
        config = make_config(port=port, state_dir=state_dir, **config_kw)
    else:
        port = port or int(str(config["server"]["listen"][0]).rsplit(":", 1)[1])
    path = write_config(workdir / "switch.yaml", config)
    switch = SwitchProcess(
        config_path=path,
        host=HOST,
        port=port,
        state_dir=Path(config["server"]["state_dir"]),
        workdir=workdir,
    )
    switch.start()
    return switch


# ---------------------------------------------------------------------------------------
# SIPp

_run_counter = iter(range(1, 1_000_000))

_SIPP_EXIT = {
    0: "all calls succeeded",
    1: "at least one call failed",
    97: "exit on internal command",
    99: "normal exit without calls processed",
    255: "fatal error (or -timeout reached, with -timeout_error)",
}


@dataclass
class SippMessage:
    direction: str  # "sent" or "received"
    transport: str
    text: str
    time: float | None = None  # when SIPp sent or received it (epoch seconds), if traced

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0].split("\n", 1)[0]

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        """The request method, or the CSeq method of a response."""
        if self.is_request:
            return self.first_line.split(" ", 1)[0]
        return (self.header("CSeq") or " ").split()[-1]

    @property
    def status(self) -> int | None:
        return None if self.is_request else int(self.first_line.split()[1])

    @property
    def body(self) -> str:
        for sep in ("\r\n\r\n", "\n\n"):
            if sep in self.text:
                return self.text.split(sep, 1)[1]
        return ""

    def headers(self, name: str) -> list[str]:
        compact = {
            "via": "v",
            "from": "f",
            "to": "t",
            "call-id": "i",
            "contact": "m",
            "content-type": "c",
            "content-length": "l",
            "supported": "k",
            "subject": "s",
            "event": "o",
        }
        names = {name.lower(), compact.get(name.lower(), name.lower())}
        head = re.split(r"\r?\n\r?\n", self.text, maxsplit=1)[0]
        out = []
        for line in re.split(r"\r?\n", head)[1:]:
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() in names:
                out.append(value.strip())
        return out

    def header(self, name: str) -> str | None:
        values = self.headers(name)
        return values[0] if values else None


_TRACE_SPLIT = re.compile(r"^-{20,} ([^\n]*)\n", re.MULTILINE)
_TRACE_TIME = re.compile(r"(\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d(?:\.\d+)?)")
_TRACE_HEAD = re.compile(
    r"^(?P<transport>\w+) (?:control )?message (?P<dir>sent|received)[^\n]*\n\n", re.DOTALL
)


def parse_trace(text: str) -> list[SippMessage]:
    """SIPp's -trace_msg file as a list of messages, in order."""
    out = []
    parts = _TRACE_SPLIT.split(text)
    # parts: [before the first separator, stamp 1, block 1, stamp 2, block 2, ...]
    for stamp, block in zip(parts[1::2], parts[2::2], strict=False):
        match = _TRACE_HEAD.match(block)
        if not match:
            continue
        body = block[match.end() :].rstrip("\n")
        out.append(
            SippMessage(
                match["dir"], match["transport"], body.strip("\n") + "\n", _trace_time(stamp)
            )
        )
    return out


def _trace_time(stamp: str) -> float | None:
    found = _TRACE_TIME.search(stamp)
    if found is None:
        return None
    when = datetime.datetime.fromisoformat(f"{found[1]} {found[2]}")
    return when.timestamp()


@dataclass
class SippResult:
    scenario: str
    command: list[str]
    returncode: int
    trace: str
    errors: str
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def messages(self) -> list[SippMessage]:
        return parse_trace(self.trace)

    def received(self, method: str | None = None, status: int | None = None) -> list[SippMessage]:
        return [
            m
            for m in self.messages
            if m.direction == "received"
            and (method is None or m.method == method)
            and (status is None or m.status == status)
        ]

    def sent(self, method: str | None = None, status: int | None = None) -> list[SippMessage]:
        return [
            m
            for m in self.messages
            if m.direction == "sent"
            and (method is None or m.method == method)
            and (status is None or m.status == status)
        ]

    def received_requests(self, method: str) -> list[SippMessage]:
        return [m for m in self.received(method) if m.is_request]

    def final_statuses(self, method: str = "INVITE") -> list[int]:
        return [m.status for m in self.received(method) if m.status is not None and m.status >= 200]

    def describe(self) -> str:
        meaning = _SIPP_EXIT.get(self.returncode, "?")
        flow = "\n".join(
            f"  {'->' if m.direction == 'sent' else '<-'} {m.first_line}" for m in self.messages
        )
        return (
            f"sipp {self.scenario} exited {self.returncode} ({meaning})\n"
            f"command: {' '.join(self.command)}\nflow:\n{flow}\n"
            f"errors:\n{self.errors[-4000:]}\noutput tail:\n{self.output[-2000:]}"
        )

    def assert_ok(self, what: str = "") -> SippResult:
        assert self.ok, (what + "\n" if what else "") + self.describe()
        return self


@dataclass
class SippHandle:
    """A SIPp run in the background (a phone waiting for calls)."""

    scenario: str
    command: list[str]
    proc: subprocess.Popen[bytes]
    trace_file: Path
    error_file: Path
    output_file: Path
    timeout: float

    def wait(self, timeout: float | None = None) -> SippResult:
        try:
            self.proc.wait(timeout if timeout is not None else self.timeout + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return _result(
            self.scenario,
            self.command,
            self.proc.returncode,
            self.trace_file,
            self.error_file,
            self.output_file,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def messages(self) -> list[SippMessage]:
        """The trace so far, while SIPp still runs."""
        return parse_trace(_read(self.trace_file))

    def wait_for(
        self, method: str, *, status: int | None = None, count: int = 1, timeout: float = 10.0
    ) -> list[SippMessage]:
        """Until the trace shows `count` received `method` requests (or responses with
        `status`); those messages. Fails with the trace if they do not come in time."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                m
                for m in self.messages()
                if m.direction == "received"
                and m.method == method
                and (m.is_request if status is None else m.status == status)
            ]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.scenario}: {count} x {method} {status or ''} not received in "
                    f"{timeout} s:\n" + _read(self.trace_file)[-4000:]
                )
            time.sleep(0.02)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _result(
    scenario: str, command: list[str], rc: int, trace: Path, errors: Path, output: Path
) -> SippResult:
    return SippResult(scenario, command, rc, _read(trace), _read(errors), _read(output))


def sipp_command(
    scenario: str,
    target: str,
    *,
    local_port: int,
    auth_user: str | None,
    auth_pass: str | None,
    service: str,
    keys: Mapping[str, str],
    extra_vars: Mapping[str, str],
    transport: str,
    calls: int,
    timeout: float,
    pause_ms: int,
    ooc: str | None,
    trace_file: Path,
    error_file: Path,
    extra_args: Sequence[str] = (),
) -> list[str]:
    if SIPP is None:
        raise RuntimeError(
            "sipp is not installed (Debian package sip-tester; `make test` installs it)"
        )
    cmd = [SIPP, target, "-sf", str(SCENARIOS / scenario)]
    if ooc:
        cmd += ["-oocsf", str(SCENARIOS / ooc)]
    cmd += [
        "-i",
        HOST,
        "-p",
        str(local_port),
        "-t",
        transport,
        "-m",
        str(calls),
        "-r",
        "10",
        "-l",
        str(max(calls, 1)),
        "-s",
        service,
        "-d",
        str(pause_ms),
        "-timeout",
        str(max(1, round(timeout))),
        "-timeout_error",
        "-nostdin",
        "-trace_msg",
        "-message_file",
        str(trace_file),
        "-trace_err",
        "-error_file",
        str(error_file),
    ]
    if auth_user is not None:
        cmd += ["-au", auth_user]
    if auth_pass is not None:
        cmd += ["-ap", auth_pass]
    for key, value in keys.items():
        cmd += ["-key", key, str(value)]
    for name, value in extra_vars.items():
        cmd += ["-set", name, str(value)]
    cmd += list(extra_args)
    return cmd


def run_sipp(
    scenario: str,
    target: str,
    *,
    workdir: Path,
    local_port: int | None = None,
    auth_user: str | None = None,
    auth_pass: str | None = None,
    service: str = "service",
    user: str | None = None,
    domain: str = "acme.test",
    keys: Mapping[str, str] | None = None,
    extra_vars: Mapping[str, str] | None = None,
    transport: str = "u1",
    calls: int = 1,
    timeout: float = 20,
    pause_ms: int = 0,
    ooc: str | None = None,
    background: bool = False,
    extra_args: Sequence[str] = (),
) -> SippResult | SippHandle:
    """Run tests/sipp/`scenario` against `target` ("host:port").

    `transport` is SIPp's -t ("u1": UDP, "t1": TCP, one socket). Keys (`-key`) always
    given: user (default `auth_user`), domain, expires (3600) and unreg_contact ("*");
    `keys` adds or overrides. `extra_vars` become `-set NAME VALUE`: only for the
    variables the scenario declares in <Global>. `pause_ms` is -d (every `<pause/>`).
    `ooc` names an out-of-call scenario (-oocsf). Traces go under `workdir`.
    Foreground: the SippResult. Background: a SippHandle; `.wait()` gives the result.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    n = next(_run_counter)
    stem = f"{Path(scenario).stem}-{n}"
    trace_file = workdir / f"{stem}.messages.log"
    error_file = workdir / f"{stem}.errors.log"
    output_file = workdir / f"{stem}.out"
    all_keys = {
        "user": user or auth_user or service,
        "domain": domain,
        "expires": "3600",
        "unreg_contact": "*",
    }
    all_keys.update(keys or {})
    cmd = sipp_command(
        scenario,
        target,
        local_port=local_port or free_port(),
        auth_user=auth_user,
        auth_pass=auth_pass,
        service=service,
        keys=all_keys,
        extra_vars=extra_vars or {},
        transport=transport,
        calls=calls,
        timeout=timeout,
        pause_ms=pause_ms,
        ooc=ooc,
        trace_file=trace_file,
        error_file=error_file,
        extra_args=extra_args,
    )
    with output_file.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    handle = SippHandle(scenario, cmd, proc, trace_file, error_file, output_file, timeout)
    if background:
        return handle
    return handle.wait()


@dataclass
class Phone:
    """A registered SIPp phone in the background: `uas_register.xml` + an ooc behaviour."""

    number: str
    port: int
    handle: SippHandle

    def wait(self, timeout: float | None = None) -> SippResult:
        return self.handle.wait(timeout)

    def kill(self) -> None:
        self.handle.kill()


def wait_registered(switch: SwitchProcess, handle: SippHandle, timeout: float = 10.0) -> None:
    """Until the phone's trace shows the 200 to its REGISTER (or it exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in parse_trace(_read(handle.trace_file)):
            if msg.direction == "received" and msg.method == "REGISTER" and msg.status == 200:
                return
        if handle.proc.poll() is not None:
            raise AssertionError(
                "phone exited before it registered:\n"
                + handle.wait().describe()
                + "\nswitch log:\n"
                + switch.log_text()[-4000:]
            )
        time.sleep(0.05)
    raise AssertionError(
        f"phone not registered within {timeout} s:\n" + _read(handle.trace_file)[-4000:]
    )


def start_phone(
    switch: SwitchProcess,
    workdir: Path,
    number: str,
    password: str,
    *,
    behaviour: str = "uas_answer.xml",
    domain: str = "acme.test",
    transport: str = "u1",
    pause_ms: int = 300,
    timeout: float = 20,
    extra_vars: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Phone:
    """Register `number` from a fresh SIPp process and leave it waiting for one call,
    which `behaviour` (uas_answer / uas_busy / uas_ring_cancel / uas_hangup) handles."""
    port = port or free_port()
    handle = run_sipp(
        "uas_register.xml",
        switch.target,
        workdir=workdir,
        local_port=port,
        auth_user=number,
        auth_pass=password,
        user=number,
        domain=domain,
        transport=transport,
        timeout=timeout,
        pause_ms=pause_ms,
        ooc=behaviour,
        extra_vars=extra_vars,
        background=True,
    )
    assert isinstance(handle, SippHandle)
    wait_registered(switch, handle)
    return Phone(number, port, handle)


def start_phones(
    switch: SwitchProcess,
    workdir: Path,
    phones: Sequence[tuple[str, str]],
    *,
    behaviour: str = "ooc_answer.xml",
    calls: int = 1,
    domain: str = "acme.test",
    transport: str = "u1",
    pause_ms: int = 300,
    timeout: float = 30,
) -> list[Phone]:
    """Register several phones at once, each from its own SIPp process running
    `phone.xml`, which stays up until its out-of-call scenario `behaviour`
    (ooc_answer / ooc_ring / ooc_busy) has handled `calls` calls. `phones`: (number,
    password) pairs. Registering in parallel keeps the tests fast. A NOTIFY (message
    waiting) counts as one of the calls: give these phones extensions without a mailbox."""
    started: list[Phone] = []
    for number, password in phones:
        port = free_port()
        handle = run_sipp(
            "phone.xml",
            switch.target,
            workdir=workdir,
            local_port=port,
            auth_user=number,
            auth_pass=password,
            user=number,
            domain=domain,
            transport=transport,
            timeout=timeout,
            pause_ms=pause_ms,
            ooc=behaviour,
            extra_vars={"calls": str(calls)},
            background=True,
            # SIPp counts the out-of-call calls too: run until all of them and the
            # registering call itself are over (-l 1 keeps it from starting another)
            extra_args=["-m", str(calls + 1)],
        )
        assert isinstance(handle, SippHandle)
        started.append(Phone(number, port, handle))
    for phone in started:
        wait_registered(switch, phone.handle)
    return started


def dial(
    switch: SwitchProcess,
    workdir: Path,
    number: str,
    password: str,
    dialled: str,
    *,
    scenario: str = "uac_answered.xml",
    domain: str = "acme.test",
    pause_ms: int = 300,
    rtp_port: int | None = None,
    expect_status: int | None = None,
    timeout: float = 20,
    background: bool = False,
    local_port: int | None = None,
) -> SippResult | SippHandle:
    """Phone `number` of `domain` calls `dialled` with SIPp `scenario`:
    uac_answered.xml (must be answered; hangs up after `pause_ms`),
    uac_answered_bye_in.xml (must be answered; waits for the other side's BYE),
    uac_expect.xml (`expect_status` is the final response it must get).
    The trunk scenarios (trunk_answered.xml, trunk_expect.xml) send no credentials;
    give the trunk's port as `local_port`. SDP offers audio on `rtp_port`."""
    extra: dict[str, str] = {}
    if "rtp_port" in (SCENARIOS / scenario).read_text(encoding="utf-8"):
        extra["rtp_port"] = str(rtp_port or free_port())
    if expect_status is not None:
        extra["expect_status"] = str(expect_status)
    trunk = scenario.startswith("trunk_")
    return run_sipp(
        scenario,
        switch.target,
        workdir=workdir,
        local_port=local_port,
        auth_user=None if trunk else number,
        auth_pass=None if trunk else password,
        user=number,
        service=dialled,
        domain=domain,
        pause_ms=pause_ms,
        extra_vars=extra,
        timeout=timeout,
        background=background,
    )
