"""Layering rules (ARCHITECTURE 4.1, style rule 1), checked on the source AST.

- The pure cores -- every module in sipstack/ except sipstack/aio/, switch/
  except switch/runtime.py, switch/__main__.py (and the media shell
  switch/media/session.py), and config/ -- import none of
  asyncio, socket, time, uvloop, threading, select.
- sipstack/ never imports from switch/ or config/ (no upward imports).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = frozenset({"asyncio", "socket", "time", "uvloop", "threading", "select"})
SHELL = {
    ROOT / "switch" / "runtime.py",
    ROOT / "switch" / "__main__.py",
    ROOT / "switch" / "admin.py",  # the admin HTTP endpoint, a shell like runtime.py
    # The media shell (RTP sockets and pacing timers), "as switch/runtime.py does for
    # SIP"; its protocol logic lives in the pure switch/media modules checked here.
    ROOT / "switch" / "media" / "session.py",
}


def pure_modules() -> list[Path]:
    out: list[Path] = []
    for package in ("sipstack", "switch", "config"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if (ROOT / "sipstack" / "aio") in path.parents or path in SHELL:
                continue
            out.append(path)
    return out


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_there_are_pure_modules() -> None:
    assert any(rel(p) == "sipstack/endpoint.py" for p in pure_modules())


@pytest.mark.parametrize("path", pure_modules(), ids=rel)
def test_pure_module_does_no_io(path: Path) -> None:
    bad = imported_roots(path) & FORBIDDEN
    assert not bad, f"{rel(path)} imports {sorted(bad)}; only the shell may"


@pytest.mark.parametrize("path", sorted((ROOT / "sipstack").rglob("*.py")), ids=rel)
def test_sipstack_does_not_import_upwards(path: Path) -> None:
    bad = imported_roots(path) & {"switch", "config"}
    assert not bad, f"{rel(path)} imports {sorted(bad)}"
