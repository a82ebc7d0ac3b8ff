"""Logging set-up: plain text, or one JSON object per line with the trace id.

``RAGBUS_LOG_FORMAT=json`` (python-json-logger) writes every record as JSON with
``timestamp``, ``level``, ``logger``, ``message``, the ``extra`` fields the call
passed (``document_id``, ``tenant_id``, ``subject`` ...) and, inside a span,
``trace_id`` and ``span_id`` (hex, as Jaeger shows them), so a log line leads to
its trace. ``RAGBUS_LOG_LEVEL`` sets the level.
"""

import logging
from typing import Literal

from opentelemetry import trace
from pydantic_settings import BaseSettings, SettingsConfigDict
from pythonjsonlogger.json import JsonFormatter

__all__ = ["LogSettings", "bus_logger", "configure_logging"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
NOISY = ("httpx", "faststream", "nats", "uvicorn.access")
"""Libraries logging every request or message at INFO; kept at WARNING."""


BUS_LOGGER = "faststream.ragbus"
"""Where ragbus's NATS brokers log (:func:`bus_logger`)."""


def bus_logger() -> logging.Logger:
    """The logger every ragbus ``NatsBroker`` is given (its ``logger=``).

    Left to itself, FastStream makes its own ``faststream.access.nats`` logger with
    its own handler at INFO, which :func:`configure_logging` does not reach: it
    wrote a formatted "Received" and "Processed" line for every message, on the
    hot path of every service. This one is a child of ``faststream``, so it
    follows :data:`NOISY` (WARNING: only failures are logged) and writes through
    the root handler in ragbus's format.
    """
    return logging.getLogger(BUS_LOGGER)


class LogSettings(BaseSettings):
    """Log settings (prefix ``RAGBUS_LOG_``).

    Attributes:
        level: Root level name, e.g. ``INFO`` or ``DEBUG``.
        format: ``text`` for people, ``json`` for a log pipeline.
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_LOG_", extra="ignore")

    level: str = "INFO"
    format: Literal["text", "json"] = "text"


class TraceIds(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` of the current span to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


def configure_logging(settings: LogSettings | None = None) -> None:
    """Replace the root logger's handlers with one stderr handler in the chosen format."""
    settings = settings or LogSettings()
    handler = logging.StreamHandler()
    handler.addFilter(TraceIds())
    if settings.format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.level.upper(), handlers=[handler], force=True)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
