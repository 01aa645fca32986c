#!/usr/bin/env python3
"""Sustained SIPp load through a SIP server, stepped up until it fails (the switch's benchmark).

    python benchmarks/sipp_bench.py --target switch|direct|kamailio|sippy [options]

Each target is measured the same way:
  1. the server under test starts pinned to SERVER_CORE (taskset), SIPp to SIPP_CORE;
  2. (switch, kamailio) the callee phones register from the uas port (register.xml,
     one REGISTER per callee, credentials from the injection file), then uas.xml listens
     on that same port: the server sends each INVITE back to where the REGISTER came from;
  3. a warm-up, then a memory step: a low rate with a long call hold, so that many calls
     are up at once; RSS growth / calls up = memory per active call;
  4. rate steps: uac.xml at R calls/s for STEP seconds (-m R*STEP), R rising until a step
     fails (>= 1% failed calls, or calls not completed); the highest passing R is "held".
The server's CPU (utime+stime of it and its children, from /proc) and RSS are sampled
every 0.5 s. Results are appended as one JSON object per target to --json.

Targets: switch (this project), direct (uac.xml -> uas_direct.xml, no server: the
generator's ceiling), kamailio (Debian package, compare/kamailio.cfg: stateful proxy +
registrar + digest auth), sippy (PyPI `sippy` B2BUA in $SIPPY_VENV, outside the tree; it can
only verify digest through RADIUS, so it runs with auth off and uac_noauth.xml).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIPPY_VENV = Path(os.environ.get("SIPPY_VENV", "/tmp/softswitch-bench/venv-sippy"))
ROOT = HERE.parent
SCEN = HERE / "sipp"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
DOMAIN = "bench.test"


# -- /proc sampling ------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(root: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_bytes(pids: list[int]) -> int:
    """Sum of resident memory; for several processes sharing memory (Kamailio's shm) this
    counts shared pages once per process, so it overstates -- PSS is used when readable."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            for line in text.splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
            continue
        except OSError:
            pass
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


class Monitor:
    """Samples CPU seconds and memory of a process tree in a thread."""

    def __init__(self, root: int, interval: float = 0.5, also: tuple[int, ...] = ()) -> None:
        self.root = root
        self.also = also  # other processes the server depends on (rtpengine)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def snapshot(self) -> tuple[float, float, int]:
        pids = [p for root in (self.root, *self.also) for p in process_tree(root)]
        return time.monotonic(), cpu_seconds(pids), rss_bytes(pids)

    def start(self) -> tuple[float, float, int]:
        self.peak = 0
        self._stop.clear()
        first = self.snapshot()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return first

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.snapshot()[2])

    def stop(self) -> tuple[float, float, int]:
        self._stop.set()
        if self._thread:
            self._thread.join()
        last = self.snapshot()
        self.peak = max(self.peak, last[2])
        return last


# -- SIPp ---------------------------------------------------------------------------------
NICE = ["nice", "-n", "-15"]
"""Both sides run at raised priority (CFS weight ~28x a nice-0 process): on a shared
machine other work on the same cores would otherwise take CPU from the measured systems.
With the kernel's autogroup scheduling on, a nice value only counts inside its session's
group, so the group's own nice is raised too (set_autogroup_nice) and every process is
kept in this session. --nice sets the value; 0 turns it off."""


def set_autogroup_nice(value: int) -> str:
    path = Path("/proc/self/autogroup")
    try:
        if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
            return "autogroup off"
        path.write_text(f"{value}\n")
        return path.read_text().strip()
    except OSError as exc:
        return f"autogroup nice not set: {exc}"


def sipp_cmd(core: str, *args: str) -> list[str]:
    return [*NICE, "taskset", "-c", core, "sipp", *args]


def read_stats(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f, delimiter=";"))


def udp_drops() -> dict[int, int]:
    """Datagrams dropped per local UDP port because the socket's receive buffer was full."""
    drops: dict[int, int] = {}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                port = int(cols[1].rsplit(":", 1)[1], 16)
                drops[port] = drops.get(port, 0) + int(cols[-1])
        except (OSError, ValueError, IndexError):
            pass
    return drops


def wait_udp_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    hexport = f":{port:04X}"
    while time.monotonic() < deadline:
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                for line in Path(table).read_text().splitlines()[1:]:
                    if line.split()[1].endswith(hexport):
                        return
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on udp port {port} after {timeout}s")


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM,
                 timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        for pid in reversed(process_tree(proc.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()


@dataclass
class Step:
    rate: int
    hold_ms: int
    calls: int
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    wall_s: float = 0.0
    offered_cps: float = 0.0
    server_cpu_pct: float = 0.0
    server_rss_peak_mb: float = 0.0
    max_concurrent: int = 0
    rtd_avg_ms: float = 0.0
    server_cpu_ms_per_call: float = 0.0
    loadavg_1m: float = 0.0
    udp_drops_server: int = 0
    udp_drops_sipp: int = 0
    passed: bool = False
    note: str = ""


@dataclass
class Result:
    target: str
    date: str
    server_core: str
    sipp_core: str
    nice: int = 0
    autogroup: str = ""
    registered: int = 0
    register_failed: int = 0
    idle_rss_mb: float = 0.0
    memory_step: Step | None = None
    bytes_per_call: float = 0.0
    steps: list[Step] = field(default_factory=list)
    max_held_cps: int = 0
    errors: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def _ms(text: str) -> float:
    """SIPp time 'hh:mm:ss' or 'hh:mm:ss:mmm[uuu]' -> ms."""
    try:
        if text.count(":") == 2:
            h, m, s = text.split(":")
            return (int(h) * 3600 + int(m) * 60 + int(s)) * 1000.0
        h, m, s, rest = text.split(":")
        return (int(h) * 3600 + int(m) * 60 + int(s)) * 1000 + float(rest[:3] + "." + rest[3:])
    except (ValueError, IndexError):
        return 0.0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        label = f"{args.target}/{args.relay}" if args.target == "switch" else args.target
        self.work: Path = args.work / label.replace("/", "-")
        self.stack = contextlib.ExitStack()  # an rtpengine daemon, when the relay is one
        self.rtpengine_pid = 0
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.server: subprocess.Popen[bytes] | None = None
        self.uas: subprocess.Popen[bytes] | None = None
        self.mon: Monitor | None = None
        self.result = Result(label, time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                             args.server_core, args.sipp_core)
        self.result.nice = args.nice
        self.port = args.port
        self.uas_port = args.port + 2
        self.uac_port = args.port + 3
        self.uac = SCEN / ("uac_noauth.xml" if args.target == "sippy" else "uac.xml")

    def log(self, msg: str) -> None:
        print(f"[{self.args.target}] {msg}", flush=True)

    def spawn(self, cmd: list[str], name: str) -> subprocess.Popen[bytes]:
        self.result.commands.append(" ".join(cmd))
        out = (self.work / f"{name}.out").open("wb")
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.work,
                                stdin=subprocess.DEVNULL)

    # -- servers ---------------------------------------------------------------------
    def start_server(self) -> None:
        a = self.args
        core = a.server_core
        target = a.target
        relay = ["--relay", a.relay]
        if target == "switch" and a.relay == "rtpengine":
            sys.path.insert(0, str(ROOT))
            from tests.support.rtpengine_daemon import rtpengine_daemon

            daemon = self.stack.enter_context(
                rtpengine_daemon(self.work / "rtpengine", ports=20000, port_min=32000)
            )
            self.rtpengine_pid = daemon.pid
            relay += ["--rtpengine", daemon.ng_address]
            self.log(f"rtpengine {daemon.ng_address}, pid {daemon.pid}")
        subprocess.run([sys.executable, str(HERE / "gen_config.py"), "--out", str(self.work),
                        "--calls-pool", str(a.pool), "--port", str(self.port),
                        "--log-level", a.log_level, *relay], check=True)
        if target == "direct":
            return
        if target == "switch":
            if a.profile:
                cmd = [*NICE, "taskset", "-c", core, sys.executable,
                       str(HERE / "profile_switch.py"), "run", "--out", str(a.profile), "--",
                       "run", "--config",
                       str(self.work / "switch.yaml"), "--log-format", "json"]
            else:
                cmd = [*NICE, "taskset", "-c", core, str(ROOT / ".venv/bin/softswitch"), "run",
                       "--config", str(self.work / "switch.yaml"), "--log-format", "json"]
        elif target == "kamailio":
            cfg = (HERE / "compare/kamailio.cfg").read_text()
            cfg = cfg.replace("PORT", str(self.port)).replace("CHILDREN", str(a.kamailio_children))
            (self.work / "kamailio.cfg").write_text(cfg)
            cmd = [*NICE, "taskset", "-c", core, "kamailio", "-f", str(self.work / "kamailio.cfg"),
                   "-DD", "-E", "-m", "256", "-M", "16", "-Y", str(self.work),
                   "-P", str(self.work / "kamailio.pid")]
        elif target == "sippy":
            cmd = [*NICE, "taskset", "-c", core, str(SIPPY_VENV / "bin/b2bua_radius"), "-f",
                   "-u", "-A", "0", "-l", "127.0.0.1", "-p", str(self.port),
                   "-s", f"127.0.0.1:{self.uas_port}", "-L", str(self.work / "sippy.log"),
                   "-P", str(self.work / "sippy.pid"),
                   f"--b2bua_socket={self.work / 'b2bua.sock'}"]
        else:
            raise SystemExit(f"unknown target {target}")
        self.server = self.spawn(cmd, "server")
        wait_udp_port(self.port, 20)
        time.sleep(1.0)
        if self.server.poll() is not None:
            raise RuntimeError(f"{target} exited at start: see {self.work}/server.out")
        also = (self.rtpengine_pid,) if self.rtpengine_pid else ()
        self.mon = Monitor(self.server.pid, also=also)

    def register(self) -> None:
        a = self.args
        if a.target not in ("switch", "kamailio"):
            return
        stat = self.work / "register_stat.csv"
        cmd = sipp_cmd(a.sipp_core, f"127.0.0.1:{self.port}", "-sf", str(SCEN / "register.xml"),
                       "-inf", str(self.work / "callees.csv"), "-key", "domain", DOMAIN,
                       "-key", "expires", "7200", "-i", "127.0.0.1", "-p", str(self.uas_port),
                       "-m", str(a.pool), "-r", str(a.register_rate), "-l", "200",
                       "-recv_timeout", "5000", "-timeout", "120s", "-nostdin",
                       "-trace_stat", "-stf", str(stat), "-fd", "1",
                       "-trace_err", "-error_file", str(self.work / "register_err.log"))
        self.result.commands.append(" ".join(cmd))
        self.log(f"registering {a.pool} callees")
        subprocess.run(cmd, cwd=self.work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, check=False)
        rows = read_stats(stat)
        if rows:
            self.result.registered = int(rows[-1]["SuccessfulCall(C)"])
            self.result.register_failed = int(rows[-1]["FailedCall(C)"])
        self.log(f"registered {self.result.registered}, failed {self.result.register_failed}")

    def start_uas(self, hold_ms: int) -> None:
        a = self.args
        scen = "uas_direct.xml" if a.target == "direct" else "uas.xml"
        port = self.port if a.target == "direct" else self.uas_port
        cmd = sipp_cmd(a.sipp_core, "-sf", str(SCEN / scen), "-i", "127.0.0.1", "-p", str(port),
                       "-recv_timeout", str(hold_ms + 32000), "-nostdin",
                       "-buff_size", "4194304",
                       "-trace_err", "-error_file", str(self.work / "uas_err.log"))
        self.uas = self.spawn(cmd, "uas")
        wait_udp_port(port)

    # -- steps -----------------------------------------------------------------------
    def run_step(self, rate: int, seconds: float, hold_ms: int, tag: str) -> Step:
        a = self.args
        calls = max(1, int(rate * seconds))
        step = Step(rate=rate, hold_ms=hold_ms, calls=calls)
        stat = self.work / f"uac_{tag}_stat.csv"
        limit = max(100, int(rate * (hold_ms / 1000 + 12)))
        cmd = sipp_cmd(a.sipp_core, f"127.0.0.1:{self.port}", "-sf", str(self.uac),
                       "-inf", str(self.work / "callers.csv"), "-key", "domain", DOMAIN,
                       "-i", "127.0.0.1", "-p", str(self.uac_port),
                       "-r", str(rate), "-m", str(calls), "-d", str(hold_ms), "-l", str(limit),
                       "-recv_timeout", "10000",
                       "-timeout", f"{int(seconds + hold_ms / 1000 + 60)}s",
                       "-buff_size", "4194304", "-nostdin",
                       "-trace_stat", "-stf", str(stat), "-fd", "1",
                       "-trace_err", "-error_file", str(self.work / f"uac_{tag}_err.log"))
        if tag.startswith("rate") and len(self.result.commands) < 40:
            self.result.commands.append(" ".join(cmd))
        mon = self.mon
        d0 = udp_drops()
        t0, c0, _ = mon.start() if mon else (time.monotonic(), 0.0, 0)
        proc = subprocess.run(cmd, cwd=self.work, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=False)
        t1, c1, _ = mon.stop() if mon else (time.monotonic(), 0.0, 0)
        step.wall_s = round(t1 - t0, 1)
        # other work on the machine competes for the cores: record how busy it was
        step.loadavg_1m = float(Path("/proc/loadavg").read_text().split()[0])
        d1 = udp_drops()
        sipp_ports = (self.uac_port,) if a.target == "direct" else (self.uac_port, self.uas_port)
        step.udp_drops_server = d1.get(self.port, 0) - d0.get(self.port, 0)
        step.udp_drops_sipp = sum(d1.get(p, 0) - d0.get(p, 0) for p in sipp_ports)
        if mon:
            step.server_cpu_pct = round(100 * (c1 - c0) / max(t1 - t0, 1e-6), 1)
            step.server_rss_peak_mb = round(mon.peak / 2**20, 1)
        rows = read_stats(stat)
        if rows:
            last = rows[-1]
            step.successful = int(last["SuccessfulCall(C)"])
            step.failed = int(last["FailedCall(C)"])
            step.retransmissions = int(last.get("Retransmissions(C)", 0) or 0)
            step.max_concurrent = max(int(r["CurrentCall"]) for r in rows)
            step.rtd_avg_ms = round(_ms(last.get("ResponseTime1(C)", "")), 2)
            # when the last call was created (stats every second): the rate SIPp offered
            created_ms = next((_ms(r["ElapsedTime(C)"]) for r in rows
                               if int(r["OutgoingCall(C)"]) >= calls), 0.0)
            if created_ms > 0:
                step.offered_cps = round(calls / (created_ms / 1000), 1)
        if mon and step.successful:
            step.server_cpu_ms_per_call = round(1000 * (c1 - c0) / step.successful, 2)
        total = step.successful + step.failed
        ok_rate = step.failed < 0.01 * calls and step.successful >= 0.99 * calls
        step.passed = ok_rate and proc.returncode in (0, 1)
        if total < calls:
            step.note = f"{calls - total} calls never finished (sipp rc={proc.returncode})"
        self.log(f"{tag}: {rate} cps x {seconds:g}s hold {hold_ms} ms: ok {step.successful} "
                 f"failed {step.failed} of {calls}, cpu {step.server_cpu_pct}%, "
                 f"rss {step.server_rss_peak_mb} MB, up {step.max_concurrent}, "
                 f"rtd {step.rtd_avg_ms} ms, {step.server_cpu_ms_per_call} ms CPU/call, "
                 f"load {step.loadavg_1m}, udp drops server {step.udp_drops_server} "
                 f"sipp {step.udp_drops_sipp} -> {'PASS' if step.passed else 'FAIL'}")
        return step

    def server_alive(self) -> bool:
        return self.target_has_server() and self.server is not None and self.server.poll() is None

    def target_has_server(self) -> bool:
        return self.args.target != "direct"

    def run(self) -> Result:
        a = self.args
        try:
            self.start_server()
            self.register()
            self.start_uas(max(a.hold_ms, a.mem_hold_ms))
            self.run_step(min(20, a.rates[0]), 2, 0, "warmup")
            time.sleep(2)
            if self.mon:
                _, _, idle = self.mon.snapshot()
                self.result.idle_rss_mb = round(idle / 2**20, 1)
            if a.mem_seconds > 0 and self.mon:
                step = self.run_step(a.mem_rate, a.mem_seconds, a.mem_hold_ms, "memory")
                self.result.memory_step = step
                if self.mon and step.max_concurrent:
                    grown = step.server_rss_peak_mb - self.result.idle_rss_mb
                    self.result.bytes_per_call = round(grown * 2**20 / step.max_concurrent)
                time.sleep(3)
            for rate in a.rates:
                if self.target_has_server() and not self.server_alive():
                    self.result.errors.append("server died")
                    break
                step = self.run_step(rate, a.step_seconds, a.hold_ms, f"rate{rate}")
                self.result.steps.append(step)
                if step.passed:
                    self.result.max_held_cps = rate
                else:
                    break
                time.sleep(a.pause)
        finally:
            if self.uas:
                stop_process(self.uas, signal.SIGTERM, 5)
            if self.server:
                stop_process(self.server, signal.SIGTERM, 30)
            self.stack.close()
        if self.server and self.server.returncode not in (0, -15, None):
            self.result.errors.append(f"server exit status {self.server.returncode}")
        return self.result


def summary(path: Path) -> str:
    rows = ["| target | max rate held (<1% failed) | server CPU at that rate | RSS peak MB "
            "| idle RSS MB | memory step: calls up / RSS peak MB / KiB per call | failing step |",
            "|---|---:|---:|---:|---:|---|---|"]
    for line in path.read_text().splitlines():
        r = json.loads(line)
        held = next((s for s in r["steps"] if s["rate"] == r["max_held_cps"]), None)
        bad = next((s for s in r["steps"] if not s["passed"]), None)
        mem = r.get("memory_step")
        mem_text = (f"{mem['max_concurrent']} / {mem['server_rss_peak_mb']} / "
                    f"{r['bytes_per_call'] / 1024:.1f}" if mem and r["target"] != "direct"
                    else "-")
        bad_text = (f"{bad['rate']} cps: {bad['failed']} failed, {bad['successful']} ok of "
                    f"{bad['calls']}, CPU {bad['server_cpu_pct']}% {bad['note']}"
                    if bad else "none (top step passed)")
        rows.append(
            f"| {r['target']} | {r['max_held_cps']} | "
            f"{held['server_cpu_pct'] if held and r['target'] != 'direct' else '-'}% | "
            f"{held['server_rss_peak_mb'] if held else '-'} | {r['idle_rss_mb']} | "
            f"{mem_text} | {bad_text} |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", choices=("switch", "direct", "kamailio", "sippy"))
    p.add_argument("--relay", choices=("embedded", "process", "rtpengine", "off"),
                   default="embedded",
                   help="the switch's server.media.relay (rtpengine: a daemon is started; "
                   "its CPU and memory are counted with the switch's)")
    p.add_argument("--summary", type=Path, default=None,
                   help="print a Markdown table of a results.jsonl and exit")
    p.add_argument("--rates", default="100,200,300,400,500,600,800,1000,1200,1500",
                   help="comma-separated calls/s steps")
    p.add_argument("--step-seconds", type=float, default=20)
    p.add_argument("--hold-ms", type=int, default=1000, help="call hold in the rate steps")
    p.add_argument("--pause", type=float, default=5, help="seconds between steps")
    p.add_argument("--mem-rate", type=int, default=100)
    p.add_argument("--mem-hold-ms", type=int, default=20000)
    p.add_argument("--mem-seconds", type=float, default=30, help="0 skips the memory step")
    p.add_argument("--pool", type=int, default=5000, help="caller/callee pairs")
    p.add_argument("--register-rate", type=int, default=500)
    p.add_argument("--port", type=int, default=5070)
    p.add_argument("--server-core", default="0")
    p.add_argument("--sipp-core", default="1")
    p.add_argument("--log-level", default="info")
    p.add_argument("--nice", type=int, default=-15,
                   help="priority of the server and SIPp (needs root below 0; 0: plain)")
    p.add_argument("--kamailio-children", type=int, default=4)
    p.add_argument("--profile", type=Path, default=None,
                   help="(switch) run under cProfile, write stats here")
    p.add_argument("--work", type=Path, default=Path("/tmp/softswitch-bench"))
    p.add_argument("--json", type=Path, default=None, help="append the result here")
    a = p.parse_args()
    if a.summary:
        print(summary(a.summary))
        return
    if not a.target:
        p.error("--target is required")
    NICE[:] = ["nice", "-n", str(a.nice)] if a.nice else []
    autogroup = set_autogroup_nice(a.nice) if a.nice else ""
    a.rates = [int(x) for x in a.rates.split(",") if x.strip()]
    bench = Bench(a)
    bench.result.autogroup = autogroup
    result = bench.run()
    text = json.dumps(asdict(result))
    print(text)
    if a.json:
        with a.json.open("a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
