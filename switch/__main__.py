"""Command line: `softswitch run --config FILE` and `softswitch check --config FILE`."""

from __future__ import annotations

import argparse
import sys

from config import ConfigError, SwitchConfig, load_config


def _load(path: str) -> SwitchConfig | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            sys.stderr.write(problem + "\n")
    except OSError as exc:
        sys.stderr.write(f"{path}:1: cannot read configuration: {exc.strerror}\n")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="softswitch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve SIP")
    run.add_argument("--config", required=True)
    run.add_argument("--log-format", choices=("console", "json"), default="console")
    check = sub.add_parser("check", help="validate a configuration file")
    check.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    config = _load(args.config)
    if config is None:
        return 2
    if args.command == "check":
        sys.stdout.write(f"{args.config}: OK\n")
        return 0
    import uvloop

    from .directory import Directory  # noqa: F401 - fail early if the tree is broken
    from .shell.logconfig import configure_logging
    from .shell.runtime import serve

    configure_logging(args.log_format, config.server.log_level)
    try:
        uvloop.run(serve(args.config, config))
    except OSError as exc:
        # Typically a listen address already in use: say so plainly, no traceback.
        sys.stderr.write(f"{args.config}: cannot start: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
