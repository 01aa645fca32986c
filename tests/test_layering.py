"""Layering rules, checked on the source AST so that breaking one fails the build.

- The pure cores (sipstack/ but sipstack/aio/, switch/ but the shell, config/) import none
  of asyncio, socket, time, uvloop, threading, select. The shell is switch/shell/,
  switch/__main__.py and the RTP shell switch/media/session.py.
- The call engine (switch/calls/) and the features (switch/features/) also do no file I/O:
  no os, shutil, sqlite3, io or tempfile, no open(), no Path reads or writes. Files are
  the shell's, reached through `switch.ports.MailboxFiles`.
- Features never import switch.core or the shell: they are given ports.
- sipstack/ never imports from switch/ or config/ (no upward imports).
- The module import graph of sipstack/, switch/ and config/ has no cycle, counting imports
  under `if TYPE_CHECKING:` too (a cycle hidden there is still a cycle).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sipstack", "switch", "config")
FORBIDDEN = frozenset({"asyncio", "socket", "time", "uvloop", "threading", "select"})
FILE_IO = frozenset({"os", "shutil", "sqlite3", "io", "tempfile"})
FILE_METHODS = frozenset(
    {
        "read_bytes",
        "read_text",
        "write_bytes",
        "write_text",
        "unlink",
        "mkdir",
        "exists",
        "is_file",
        "is_dir",
        "iterdir",
        "glob",
        "rglob",
        "rename",
    }
)
SHELL_FILES = {ROOT / "switch" / "__main__.py", ROOT / "switch" / "media" / "session.py"}
SHELL_DIRS = (ROOT / "sipstack" / "aio", ROOT / "switch" / "shell")


def modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def is_shell(path: Path) -> bool:
    return path in SHELL_FILES or any(d in path.parents for d in SHELL_DIRS)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def imported(path: Path) -> frozenset[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported(path)}


def test_there_are_pure_modules() -> None:
    assert any(rel(p) == "sipstack/endpoint.py" for p in modules(*PACKAGES) if not is_shell(p))


@pytest.mark.parametrize("path", [p for p in modules(*PACKAGES) if not is_shell(p)], ids=rel)
def test_pure_module_does_no_io(path: Path) -> None:
    bad = roots(path) & FORBIDDEN
    assert not bad, f"{rel(path)} imports {sorted(bad)}; only the shell may"


@pytest.mark.parametrize("path", modules("switch/calls", "switch/features"), ids=rel)
def test_calls_and_features_do_no_file_io(path: Path) -> None:
    bad = roots(path) & FILE_IO
    assert not bad, f"{rel(path)} imports {sorted(bad)}; files are the shell's"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open":
                pytest.fail(f"{rel(path)}:{node.lineno} calls open()")
            if isinstance(func, ast.Attribute) and func.attr in FILE_METHODS:
                pytest.fail(f"{rel(path)}:{node.lineno} calls .{func.attr}() (file I/O?)")


@pytest.mark.parametrize("path", modules("switch/features"), ids=rel)
def test_features_are_given_ports(path: Path) -> None:
    bad = {n for n in imported(path) if n == "switch.core" or n.startswith("switch.shell")}
    assert not bad, f"{rel(path)} imports {sorted(bad)}; a feature receives ports"


@pytest.mark.parametrize("path", modules("sipstack"), ids=rel)
def test_sipstack_does_not_import_upwards(path: Path) -> None:
    bad = roots(path) & {"switch", "config"}
    assert not bad, f"{rel(path)} imports {sorted(bad)}"


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in modules(*PACKAGES)}
    return {
        name: {n for n in imported(path) if n in paths and n != name}
        for name, path in paths.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    # A package's __init__ re-exporting its modules is not a cycle of its modules.
    graph = import_graph()
    for name in graph:
        graph[name] = {n for n in graph[name] if not name.startswith(n + ".")}
    assert cycles(graph) == []
