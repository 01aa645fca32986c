"""Fixtures for the end-to-end tests: a switch process per test and SIPp phones.

SIPp is required: `make test` installs it (Debian package sip-tester). A machine without
it fails these tests loudly, unless SOFTSWITCH_ALLOW_NO_SIPP=1 says to skip them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The tests import the harness as a top-level module (pytest runs with
# --import-mode=importlib and tests/ has no packages).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SIPP, SwitchProcess, start_switch  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SIPP is not None or os.environ.get("SOFTSWITCH_ALLOW_NO_SIPP") != "1":
        return
    skip = pytest.mark.skip(reason="sipp not installed and SOFTSWITCH_ALLOW_NO_SIPP=1")
    for item in items:
        if "sipp" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def sipp_required() -> None:
    if SIPP is None:
        pytest.fail(
            "sipp is not installed: run `make test` (it installs Debian's "
            "sip-tester), or set SOFTSWITCH_ALLOW_NO_SIPP=1 to skip these tests"
        )


@pytest.fixture
def sipp_dir(tmp_path: Path) -> Path:
    """Where SIPp traces of this test go."""
    path = tmp_path / "sipp"
    path.mkdir()
    return path


@pytest.fixture
def switch(tmp_path: Path, sipp_required: None) -> Iterator[SwitchProcess]:
    """The switch on the default configuration (acme 201-205, globex), UDP and TCP on
    one free port, state under tmp_path. Its log is printed when a test fails."""
    proc = start_switch(tmp_path / "switch")
    try:
        yield proc
    finally:
        proc.stop()
        log = tmp_path / "switch" / "switch.log"
        log.write_text(proc.log_text() + "\n", encoding="utf-8")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call" and report.failed:
        proc = getattr(item, "funcargs", {}).get("switch")
        if isinstance(proc, SwitchProcess):
            report.sections.append(("switch log (tail)", proc.log_text()[-8000:]))
    return report
