"""A phone behind a real NAT router (docs/BEHAVIOUR.md, "Media anchoring", "NAT and
keep-alives"), built from network namespaces this test creates and removes:

    [ss-wan]  switch 198.18.0.1, caller 198.18.0.1   (the "internet" side)
        |  veth
    [ss-nat]  198.18.0.2  --MASQUERADE--  198.19.0.1  (the office router)
        |  veth
    [ss-home] callee 198.19.0.2, default route via the router

The callee registers and answers with its private address (198.19.0.2) in Contact and
SDP; nothing on the wan side can reach that address. The switch reaches the phone through
the router's mapping, and the relay learns where its RTP really comes from: both phones
hear each other's tone. 198.18.0.0/15 is the benchmarking range (RFC 2544): no packet of
this test leaves the namespaces. Skipped, with the reason, where namespaces or iptables
cannot be used.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import PASSWORDS, make_config, write_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PHONE = Path(__file__).resolve().parent / "netns_phone.py"
WAN_SWITCH, WAN_ROUTER = "198.18.0.1", "198.18.0.2"
LAN_ROUTER, LAN_PHONE = "198.19.0.1", "198.19.0.2"
PORT = 5060


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=10)


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = f"ss-probe-{os.getpid()}"
    try:
        _run("ip", "netns", "add", probe)
        _run("ip", "netns", "exec", probe, "iptables", "-t", "nat", "-L")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"namespaces or iptables refused here: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


@pytest.fixture
def namespaces() -> Iterator[dict[str, str]]:
    why = _unavailable()
    if why is not None:
        pytest.skip(why)
    tag = str(os.getpid())
    ns = {"wan": f"ss-wan-{tag}", "nat": f"ss-nat-{tag}", "home": f"ss-home-{tag}"}
    try:
        for name in ns.values():
            _run("ip", "netns", "add", name)
            _run("ip", "-n", name, "link", "set", "lo", "up")
        # wan <-> router, router <-> home
        _run("ip", "link", "add", f"sw{tag}", "netns", ns["wan"], "type", "veth",
             "peer", "name", f"rw{tag}", "netns", ns["nat"])  # fmt: skip
        _run("ip", "link", "add", f"rl{tag}", "netns", ns["nat"], "type", "veth",
             "peer", "name", f"ph{tag}", "netns", ns["home"])  # fmt: skip
        for name, dev, address in (
            (ns["wan"], f"sw{tag}", f"{WAN_SWITCH}/24"),
            (ns["nat"], f"rw{tag}", f"{WAN_ROUTER}/24"),
            (ns["nat"], f"rl{tag}", f"{LAN_ROUTER}/24"),
            (ns["home"], f"ph{tag}", f"{LAN_PHONE}/24"),
        ):
            _run("ip", "-n", name, "addr", "add", address, "dev", dev)
            _run("ip", "-n", name, "link", "set", dev, "up")
        _run("ip", "-n", ns["home"], "route", "add", "default", "via", LAN_ROUTER)
        _run("ip", "netns", "exec", ns["nat"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _run("ip", "netns", "exec", ns["nat"], "iptables", "-t", "nat", "-A", "POSTROUTING",
             "-o", f"rw{tag}", "-j", "MASQUERADE")  # fmt: skip
        yield ns
    finally:
        for name in ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _in(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


@pytest.mark.parametrize("relay", ["embedded", "off"])
def test_phone_behind_a_masquerading_router_talks_through_the_relay(
    namespaces: dict[str, str], tmp_path: Path, relay: str
) -> None:
    # relay: off is the twin that shows the test can fail: the caller is told the
    # phone's private address and its audio goes nowhere
    extra = {"listen": [f"udp:{WAN_SWITCH}:{PORT}"], "rtp_ports": "30000-30999"}
    extra["media"] = {"relay": relay}
    config = make_config(
        port=PORT, state_dir=tmp_path / "state", transports=("udp",), server_extra=extra
    )
    path = write_config(tmp_path / "switch.yaml", config)
    python = sys.executable
    log = tmp_path / "switch.log"
    with log.open("w") as out:
        switch = subprocess.Popen(
            _in(namespaces["wan"], python, "-m", "switch", "run", "--config", str(path),
                "--log-format", "json"),
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    phones: list[subprocess.Popen[str]] = []
    try:
        _wait_for(switch, log, "started")
        common = [WAN_SWITCH, str(PORT)]
        callee = subprocess.Popen(
            _in(namespaces["home"], python, str(PHONE), "callee", *common, LAN_PHONE, "202",
                PASSWORDS["202"], "acme.test"),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        phones.append(callee)
        assert callee.stdout is not None
        line = callee.stdout.readline().strip()
        assert line == "registered", f"the NATed phone did not register: {line!r}"
        caller = subprocess.Popen(
            _in(namespaces["wan"], python, str(PHONE), "caller", *common, WAN_SWITCH, "201",
                PASSWORDS["201"], "acme.test", "202"),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        phones.append(caller)
        caller_out, caller_err = caller.communicate(timeout=30)
        callee_out, callee_err = callee.communicate(timeout=30)
        assert caller.returncode == 0, caller_err
        assert callee.returncode == 0, callee_err
        heard_by_caller = json.loads(caller_out.strip().splitlines()[-1])
        heard_by_callee = json.loads(callee_out.strip().splitlines()[-1])
        if relay == "off":
            assert heard_by_caller["told"][0] == LAN_PHONE  # private: unreachable
            assert heard_by_callee["packets"] == 0, "the caller's audio crossed the NAT"
            return
        # both were told the switch's address, never the phone's private one
        assert heard_by_caller["told"][0] == heard_by_callee["told"][0] == WAN_SWITCH
        assert abs(heard_by_callee["heard"] - 440.0) < 20, heard_by_callee
        assert abs(heard_by_caller["heard"] - 1000.0) < 20, heard_by_caller
    finally:
        for proc in phones:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        switch.terminate()
        switch.wait(10)


def _wait_for(process: subprocess.Popen[bytes], log: Path, event: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process.poll() is None:
        if f'"event":"{event}"' in log.read_text().replace(" ", ""):
            return
        time.sleep(0.1)
    raise AssertionError(f"the switch did not log {event!r}:\n{log.read_text()[-2000:]}")
