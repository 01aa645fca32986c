#!/usr/bin/env python3
"""Where the switch's time goes under load: cProfile around `softswitch run`, and a report.

    python benchmarks/profile_switch.py run --out switch.prof -- run --config FILE --log-format json
        runs switch.__main__.main(ARGS) under cProfile; SIGTERM (which the runtime turns into
        a clean stop) or SIGINT ends it and the stats are written to --out.
    python benchmarks/profile_switch.py report switch.prof [--top 25]
        prints the share of own time (tottime) by area -- parse, serialise, transactions,
        dialog/endpoint, B2BUA core, routing, digest auth, registrar/location, logging,
        SQLite, event loop and sockets, config/other -- then the top functions.

cProfile only sees Python frames; time inside uvloop's C code shows as the callers of its
Python callbacks plus the `run` of the loop. Its own overhead (about 1.5-2x on this kind of
code) inflates many small calls more than few large ones, so read the shares, not the
absolute seconds. `benchmarks/run_bench.sh profile` drives it under a fixed SIPp load.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys

# (area, substrings of the code's file path or function name), first match wins
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("parse", ("sipstack/parse.py", "sipstack/header_values.py", "sipstack/uri.py",
               "sipstack/grammar.py", "sipstack/headers.py", "sipstack/framing.py")),
    ("serialise", ("sipstack/serialize.py",)),
    ("message building", ("sipstack/message.py", "sipstack/ids.py")),
    ("transactions", ("sipstack/transaction/",)),
    ("dialog/endpoint", ("sipstack/dialog.py", "sipstack/invite.py", "sipstack/endpoint.py",
                         "sipstack/transport.py", "sipstack/events.py", "sipstack/timers.py")),
    ("sockets + pump (sipstack/aio, runtime)", ("sipstack/aio/", "switch/runtime.py")),
    ("digest auth", ("switch/auth.py", "_hashlib", "hashlib", "hmac", "secrets")),
    ("registrar/location", ("switch/registrar.py", "switch/location.py")),
    ("SQLite", ("switch/storage/", "sqlite3")),
    ("routing", ("switch/routing/", "switch/router.py", "switch/directory.py")),
    ("B2BUA core (call/leg/core/state)", ("switch/call.py", "switch/leg.py", "switch/core.py",
                                          "switch/extension_state.py", "switch/timers.py",
                                          "switch/events.py", "switch/offer_answer.py")),
    ("logging (structlog/json)", ("structlog", "switch/logconfig.py", "json/", "logging/",
                                  "_json", "<method 'write' of '_io", "orjson")),
    ("msgspec", ("msgspec",)),
    ("event loop (uvloop/asyncio)", ("uvloop", "asyncio", "<method 'run_until_complete'",
                                     "selectors", "<method 'poll'", "<method 'sendto'")),
]


def area_of(filename: str, funcname: str) -> str:
    key = f"{filename}:{funcname}"
    for area, needles in AREAS:
        if any(n in key for n in needles):
            return area
    if filename == "~":  # builtins: give them their own bucket by name
        return "builtins (str/bytes/dict methods, etc.)"
    return "other"


def cmd_run(args: argparse.Namespace) -> int:
    from switch.__main__ import main

    prof = cProfile.Profile()
    code = 0
    try:
        prof.enable()
        code = main(args.argv)
    except KeyboardInterrupt:
        pass
    finally:
        prof.disable()
        prof.dump_stats(args.out)
        sys.stderr.write(f"profile written to {args.out}\n")
    return code


def cmd_report(args: argparse.Namespace) -> int:
    st = pstats.Stats(args.prof)
    raw = st.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    by_area: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in raw.items():
        area = area_of(filename, func)
        by_area[area] = by_area.get(area, 0.0) + tt
    out = [f"total profiled own time: {total:.2f} s", "", "| area | own time s | share |",
           "|---|---:|---:|"]
    for area, tt in sorted(by_area.items(), key=lambda kv: -kv[1]):
        out.append(f"| {area} | {tt:.2f} | {100 * tt / total:.1f}% |")
    out += ["", f"top {args.top} functions by own time:", "",
            "| own s | cum s | calls | function |", "|---:|---:|---:|---|"]
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[: args.top]
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in rows:
        where = filename.replace(str(sys.prefix), "<venv>")
        for marker in ("/site-packages/", "/work/main/"):
            if marker in where:
                where = where.split(marker, 1)[1]
        out.append(f"| {tt:.2f} | {ct:.2f} | {nc} | `{where}:{line} {func}` |")
    out += ["", f"top {args.top} by cumulative time:", "",
            "| cum s | calls | function |", "|---:|---:|---|"]
    rows = sorted(raw.items(), key=lambda kv: -kv[1][3])[: args.top]
    for (filename, line, func), (_cc, nc, _tt, ct, _callers) in rows:
        where = filename
        for marker in ("/site-packages/", "/work/main/"):
            if marker in where:
                where = where.split(marker, 1)[1]
        out.append(f"| {ct:.2f} | {nc} | `{where}:{line} {func}` |")
    print("\n".join(out))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", required=True)
    r.add_argument("argv", nargs=argparse.REMAINDER)
    rep = sub.add_parser("report")
    rep.add_argument("prof")
    rep.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    if args.cmd == "run":
        if args.argv and args.argv[0] == "--":
            args.argv = args.argv[1:]
        return cmd_run(args)
    return cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
