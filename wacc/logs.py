"""Structured logging: JSON lines for machines, readable lines on a terminal.

The request id (and role) live in context variables, so every line logged while a
request or job runs carries them without passing them around.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, cast

import structlog

from wacc.config import Settings

# Header and field names that must never reach a log line.
_SENSITIVE = ("password", "secret", "token", "authorization", "api_key", "apikey", "cookie")


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if any(s in key.lower() for s in _SENSITIVE):
            event[key] = "***"
    return event


# Libraries whose INFO lines say nothing a person running wacc needs (job lists, "Added
# job", "Running Sqlite version"): shown from WARNING unless WACC_LOG_LEVEL=DEBUG.
_CHATTY = ("piccolo", "huey", "apscheduler", "uvicorn", "httpx")


class _OncePerOutage(logging.Filter):
    """Huey's consumer logs "Error reading from queue" (with a traceback) on every poll
    while Redis is away, several times a second per thread. Let one through per
    QUIET_SECONDS; the outbox's own line says what it means for the work."""

    QUIET_SECONDS = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if not message.startswith("Error reading"):
            return True
        now = time.monotonic()
        if now - self._last.get(message, -self.QUIET_SECONDS) < self.QUIET_SECONDS:
            return False
        self._last[message] = now
        return True


_QUIET_HUEY = _OncePerOutage()


def level_of(settings: Settings, fmt: str) -> str:
    """The log level in effect: WACC_LOG_LEVEL, or for auto INFO (WARNING on a terminal)."""
    level = settings.core.log_level
    if level == "auto":
        return "WARNING" if fmt == "console" else "INFO"
    return level


def configure_logging(settings: Settings, role: str = "cli") -> None:
    fmt = settings.core.log_format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        # Plain tracebacks: rich's would print local variables, which can hold secrets.
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                      exception_formatter=structlog.dev.plain_traceback)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                cast(Any, structlog.processors.format_exc_info if fmt == "json" else _noop),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = level_of(settings, fmt)
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel("DEBUG" if level == "DEBUG" else "WARNING")
    # uvicorn's access log duplicates ours (we log each request with its id).
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error", "huey", "apscheduler"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for name in ("huey.consumer.Worker", "huey.consumer.Scheduler"):
        if _QUIET_HUEY not in logging.getLogger(name).filters:
            logging.getLogger(name).addFilter(_QUIET_HUEY)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(role=role)


def _noop(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return event


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
