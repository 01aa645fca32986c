"""Hostile input (docs/BEHAVIOUR.md#failure-table): password scanners and looping requests.

A source that keeps failing digest authentication is refused without its answers
being checked, so it cannot guess at line rate; a phone already registered from
its own address keeps working. Max-Forwards 0 gets 483 Too Many Hops.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import PASSWORDS, start_switch
from rawsip import RawPhone

pytestmark = [pytest.mark.integration]


def test_password_scanner_is_throttled_phones_keep_working(tmp_path: Path) -> None:
    switch = start_switch(tmp_path / "switch",
                          server_extra={"auth": {"max_failures": 3, "failure_window": 60}})
    phone = RawPhone(switch.host, switch.port, "202", "acme.test")
    scanner = RawPhone(switch.host, switch.port, "201", "acme.test")
    try:
        ok = phone.register(PASSWORDS["202"])
        assert ok is not None and ok.status == 200
        statuses = []
        for guess in range(6):
            answer = scanner.register(f"guess-{guess}")
            assert answer is not None
            statuses.append((answer.status, answer.reason))
        assert statuses[0][0] == 403  # a wrong answer: refused, never a binding
        assert any("too many" in reason for _, reason in statuses[3:]), statuses
        # blocked: even the right password from the scanner's address is refused now
        right = scanner.register(PASSWORDS["201"])
        assert right is not None and right.status == 403
        # the registered phone on the same host refreshes its registration as before
        again = phone.register(PASSWORDS["202"])
        assert again is not None and again.status == 200
        assert any("202@127.0.0.1" in c for c in again.get_all("contact"))
    finally:
        phone.close()
        scanner.close()
        switch.stop()
    assert "auth.throttled" in switch.log_text()


def test_max_forwards_zero_is_483(tmp_path: Path) -> None:
    switch = start_switch(tmp_path / "switch")
    caller = RawPhone(switch.host, switch.port, "201", "acme.test")
    try:
        invite = caller.request("INVITE", "sip:202@acme.test", ["Max-Forwards: 0"],
                                to="<sip:202@acme.test>")
        answer = caller.send(invite)
        assert answer is not None and answer.status == 483
    finally:
        caller.close()
        switch.stop()
