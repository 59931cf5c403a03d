"""The integration worker app with the OpenTelemetry SDK: its spans go to $ITEST_SPANS_FILE.

`celery -A tests.integration.tracing_worker_app worker`: each pool process appends one JSON
line per finished span to the file, so the test reads what the worker traced.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

SPANS_FILE_ENV = "ITEST_SPANS_FILE"


def span_record(span: ReadableSpan) -> dict[str, object]:
    """What the test reads of a span."""
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "status": span.status.status_code.name,
        "description": span.status.description,
        "attributes": dict(span.attributes or {}),
        "events": [event.name for event in span.events],
        "links": [f"{link.context.span_id:016x}" for link in span.links],
        "pid": os.getpid(),
    }


class FileSpanExporter(SpanExporter):
    """Appends each span as a JSON line to a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span)) + "\n" for span in spans)
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(lines)
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(os.environ[SPANS_FILE_ENV])))
trace.set_tracer_provider(provider)

from tests.integration.worker_app import app  # noqa: E402

__all__ = ["app"]
