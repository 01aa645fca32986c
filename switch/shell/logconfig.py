"""structlog set-up: one line per event, JSON (`--log-format json`) or console."""

from __future__ import annotations

import logging
import sys

import msgspec
import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(fmt: str = "console", level: str = "info") -> None:
    renderer: structlog.typing.Processor
    if fmt == "json":
        # msgspec's encoder is several times faster than json.dumps on the hot path
        # (~9 events per call); anything it does not know is written as str().
        encoder = msgspec.json.Encoder(enc_hook=str)

        def dumps(obj: object, **_: object) -> str:
            return encoder.encode(obj).decode()

        renderer = structlog.processors.JSONRenderer(serializer=dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt=None if fmt == "json" else "iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        context_class=dict,
        logger_factory=_unflushed_logger,
        cache_logger_on_first_use=True,
    )


class _UnflushedLogger:
    """structlog's WriteLogger without the flush per event: the runtime flushes once per
    pump (`flush_logs`), so a call's ten events cost one write instead of ten."""

    def msg(self, message: str) -> None:
        sys.stdout.write(message + "\n")

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _unflushed_logger(*_: object) -> _UnflushedLogger:
    return _UnflushedLogger()


def flush_logs() -> None:
    sys.stdout.flush()
