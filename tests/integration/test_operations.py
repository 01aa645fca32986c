"""Operating the switch: `softswitch check`, refusing a bad file, SIGHUP reload.

Behaviour (docs/BEHAVIOUR.md#commands, #configuration-checks): `check` and `run` list every
problem as FILE:LINE: message and refuse the file; SIGHUP reloads without dropping
registrations or calls in progress; a bad new file is refused with the same messages and
the old one stays in force.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from harness import (
    PASSWORDS,
    REPO_ROOT,
    SippResult,
    SwitchProcess,
    customer,
    default_customers,
    extension,
    run_sipp,
    start_phone,
)
from test_sipp_core import caller, finish

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

BAD = """\
server:
  listen: [udp:127.0.0.1:5999]
  state_dir: {state}
customers:
  - name: acme
    domain: acme.test
    colour: blue
    user_groups: [{{name: staff}}]
    extensions:
      - {{number: "201", name: A, password: a, user_group: staff}}
      - {{number: "20", name: B, password: b, user_group: staff}}
      - {{number: "201", name: C, password: c, user_group: nobody}}
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switch", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=30)


def test_check_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD.format(state=tmp_path), encoding="utf-8")
    result = _cli("check", "--config", str(path))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith(f"{path}:") for line in lines), result.stderr
    assert any(":7:" in line and "colour" in line for line in lines), result.stderr
    # after the unknown key, the file is not checked further; fix it and see the rest
    path.write_text(BAD.format(state=tmp_path).replace("    colour: blue\n", ""), "utf-8")
    result = _cli("check", "--config", str(path))
    assert result.returncode != 0
    text = result.stderr
    assert f"{path}:10:" in text and "prefix" in text, text  # "20" is a prefix of "201"
    assert f"{path}:11:" in text, text  # 201 twice, and an unknown user group
    run = _cli("run", "--config", str(path))
    assert run.returncode != 0 and f"{path}:10:" in run.stderr


def test_check_accepts_the_reference_and_examples() -> None:
    for path in [REPO_ROOT / "tests" / "data" / "reference.yaml",
                 *sorted((REPO_ROOT / "examples").glob("*.yaml"))]:
        result = _cli("check", "--config", str(path))
        assert result.returncode == 0, (path, result.stderr)


def _write(switch: SwitchProcess, config: dict[str, object]) -> None:
    switch.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _wait_for(switch: SwitchProcess, event: str, timeout: float = 5.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for found in switch.events():
            if found.get("event") == event:
                return found
        time.sleep(0.05)
    raise AssertionError(f"no {event!r} in the log:\n{switch.log_text()[-3000:]}")


def test_sighup_reload_keeps_bindings_and_calls(switch: SwitchProcess, sipp_dir: Path) -> None:
    config = yaml.safe_load(switch.config_path.read_text(encoding="utf-8"))
    phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], timeout=40, pause_ms=3000)
    # a call in progress across the reload
    call = run_sipp("uac_call.xml", switch.target, workdir=sipp_dir, auth_user="201",
                    auth_pass=PASSWORDS["201"], service="202", pause_ms=3000, background=True)
    time.sleep(1.0)
    acme = customer("acme", "acme.test",
                    [*(extension(n, pw) for n, pw in PASSWORDS.items()),
                     extension("206", "new-pw")], access_code="81")
    config["customers"] = [acme, *default_customers()[1:]]
    _write(switch, config)
    switch.reload()
    _wait_for(switch, "reloaded")
    result = call.wait(30)  # type: ignore[union-attr]
    result.assert_ok("the call that was up during the reload")
    finish(phone, "the callee of that call")
    # the new extension exists now
    registered = run_sipp("register.xml", switch.target, workdir=sipp_dir, auth_user="206",
                          auth_pass="new-pw")
    assert isinstance(registered, SippResult)
    registered.assert_ok("206 registers after the reload")


def test_bad_reload_keeps_the_old_configuration(switch: SwitchProcess, sipp_dir: Path) -> None:
    phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], timeout=40)
    switch.config_path.write_text(BAD.format(state=switch.state_dir), encoding="utf-8")
    switch.reload()
    refused = _wait_for(switch, "reload.refused")
    assert str(refused.get("problem", "")).startswith(f"{switch.config_path}:"), refused
    call = caller(switch, sipp_dir, "uac_call.xml", "202")
    call.assert_ok("a call after a refused reload: old configuration, binding kept")
    finish(phone, "the callee registered before the refused reload")


def test_admin_status_metrics_and_call_records(tmp_path: Path, sipp_required: None) -> None:
    import json
    import sqlite3
    import urllib.request

    from harness import free_port, start_switch

    admin = free_port()
    switch = start_switch(tmp_path / "switch", server_extra={"admin": f"127.0.0.1:{admin}"})
    try:
        sipp_dir = tmp_path / "sipp"
        sipp_dir.mkdir()
        phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], timeout=40)
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/status", timeout=5) as answer:
            state = json.loads(answer.read())
        assert [r["aor"] for r in state["registrations"]] == ["202@acme.test"]
        caller(switch, sipp_dir, "uac_call.xml", "202").assert_ok("a call for the CDR")
        finish(phone, "the callee")
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        assert "softswitch_registrations 1" in text
        assert 'softswitch_calls_total{result="answered"} 1' in text
    finally:
        switch.stop()
    # the call record is in the embedded store and survives the process
    db = sqlite3.connect(switch.state_dir / "softswitch.db")
    rows = [json.loads(v) for (v,) in db.execute("SELECT value FROM kv WHERE namespace='cdr'")]
    db.close()
    answered = [r for r in rows if r["answered_by"] == "202"]
    assert answered and answered[0]["caller"] == "201" and answered[0]["status"] == 200
    assert answered[0]["end"] >= answered[0]["answer"] >= answered[0]["start"]


def test_wildcard_listen_address_serves_calls(tmp_path: Path, sipp_required: None) -> None:
    """`listen: udp:0.0.0.0:PORT`: the switch advertises a reachable address in its
    Contact and SDP instead of 0.0.0.0, and calls work."""
    from harness import free_port, make_config, start_switch

    port = free_port()
    config = make_config(port=port, state_dir=tmp_path / "switch" / "state")
    config["server"]["listen"] = [f"udp:0.0.0.0:{port}", f"tcp:0.0.0.0:{port}"]
    switch = start_switch(tmp_path / "switch", config=config, port=port)
    try:
        sipp_dir = tmp_path / "sipp"
        sipp_dir.mkdir()
        phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], timeout=40)
        call = caller(switch, sipp_dir, "uac_call.xml", "202")
        call.assert_ok("a call through a switch listening on 0.0.0.0")
        ok = [m for m in call.received("INVITE", status=200)]
        assert ok and "0.0.0.0" not in (ok[-1].header("Contact") or "")
        finish(phone, "the callee")
    finally:
        switch.stop()
