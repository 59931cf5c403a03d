"""One trace from an emit in this process to each handler span on a real prefork worker."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from events_celery import CeleryEventEmitter
from tests.integration.support import Recorder, WorkerProcess, base_conf, make_app

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

HANDLERS = "tests.integration.handlers"


def worker_spans(path: Path, predicate: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
    """The worker's spans once `predicate` holds for them (30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        text = path.read_text() if path.exists() else ""
        spans = [json.loads(line) for line in text.splitlines()]
        if predicate(spans):
            return spans
        assert time.monotonic() < deadline, spans
        time.sleep(0.2)


def named(spans: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [span for span in spans if span["name"] == name]


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_one_trace_runs_from_the_emit_to_each_handler_span_on_a_prefork_worker(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    spans_file = tmp_path / "worker-spans.jsonl"
    conf = base_conf(queue)
    worker_factory(
        broker_url,
        [queue],
        conf,
        concurrency=2,
        env={"ITEST_SPANS_FILE": str(spans_file)},
        app_module="tests.integration.tracing_worker_app",
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    producer = make_app(broker_url, {**conf, "events_tracer_provider": provider})
    emitter = CeleryEventEmitter(producer)

    emitter.emit("itest.callbacks", 21)
    emitter.emit("itest.flaky", uuid.uuid4().hex)

    found = worker_spans(
        spans_file,
        lambda spans: (
            len(named(spans, "process itest.callbacks")) == 1
            and len(named(spans, "process itest.flaky")) == 3
        ),
    )
    published = {span.name: span for span in exporter.get_finished_spans()}
    emit = published["publish itest.callbacks"]
    trace_id = f"{emit.context.trace_id:032x}"
    [process] = named(found, "process itest.callbacks")
    assert process["kind"] == "CONSUMER"
    assert process["trace_id"] == trace_id
    assert process["parent_id"] == f"{emit.context.span_id:016x}"
    assert process["attributes"]["messaging.message.id"] == emit.attributes["messaging.message.id"]
    assert process["attributes"]["messaging.destination.name"] == queue
    assert process["pid"] != os.getpid()
    [multiply] = named(found, f"handle {HANDLERS}:multiply")
    [explode] = named(found, f"handle {HANDLERS}:explode")
    for handler in (multiply, explode):
        assert handler["trace_id"] == trace_id
        assert handler["parent_id"] == process["span_id"]
    assert multiply["status"] == "UNSET"
    assert explode["status"] == "ERROR"
    assert explode["description"] == "ValueError: cannot handle 21"
    assert explode["events"] == ["exception"]

    flaky_emit = published["publish itest.flaky"]
    attempts = sorted(
        named(found, "process itest.flaky"), key=lambda span: span["attributes"]["events.attempt"]
    )
    assert [span["attributes"]["events.attempt"] for span in attempts] == [1, 2, 3]
    for span in attempts:
        assert span["trace_id"] == f"{flaky_emit.context.trace_id:032x}"
        assert span["parent_id"] == f"{flaky_emit.context.span_id:016x}"
    origin = f"{flaky_emit.context.span_id:016x}"
    assert [span["links"] for span in attempts] == [[], [origin], [origin]]
