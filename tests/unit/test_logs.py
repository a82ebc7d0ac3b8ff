"""JSON logs carry the call's extra fields and the current trace and span ids."""

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from ragbus.logs import LogSettings, configure_logging

pytestmark = pytest.mark.unit


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_with_extras_and_trace_ids(capsys, restore_root_logger) -> None:
    configure_logging(LogSettings(format="json", level="info"))
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("ingest") as span:
        logging.getLogger("ragbus.test").info(
            "parsed", extra={"document_id": "d1", "tenant_id": "acme"}
        )
    logging.getLogger("ragbus.test").debug("not at INFO")
    (line,) = capsys.readouterr().err.strip().splitlines()
    record = json.loads(line)
    context = span.get_span_context()
    assert record["message"] == "parsed" and record["level"] == "INFO"
    assert (record["logger"], record["document_id"], record["tenant_id"]) == (
        "ragbus.test",
        "d1",
        "acme",
    )
    assert record["trace_id"] == format(context.trace_id, "032x")
    assert record["span_id"] == format(context.span_id, "016x")


def test_text_is_the_default(capsys, restore_root_logger) -> None:
    configure_logging(LogSettings())
    logging.getLogger("ragbus.test").warning("plain")
    err = capsys.readouterr().err
    assert "WARNING ragbus.test plain" in err and not err.lstrip().startswith("{")
