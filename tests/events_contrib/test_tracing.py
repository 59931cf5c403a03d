"""The tracing add-on in one process: spans from emit to each handler, and off switches.

Tasks run eagerly (`task_always_eager`), so the emit, the execution and the handlers happen
in this process; spans go to an in-memory exporter through `events_tracer_provider`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

import events_celery
from events_celery import CeleryEventEmitter
from events_celery.bootstrap import runtime_of
from events_celery.envelope import Envelope
from events_celery.publisher import TASK_NAME
from events_contrib.tracing import TracingAddon
from events_core import EventLinker

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode


class Traced(EventLinker):
    """Handlers of these tests."""


def fine(order_id: int) -> None:
    """Succeeds."""


def broken(order_id: int) -> None:
    """Always fails."""
    raise ValueError(f"order {order_id} is invalid")


Traced.subscribe("traced.order", event_callback=fine)
Traced.subscribe("traced.order", event_callback=broken)


def capture_envelope(app: Celery, event: str, *args: Any) -> Envelope:
    """The envelope the emitter seals, taken instead of being sent."""
    publisher = runtime_of(app).publisher
    captured: list[Envelope] = []
    publisher.send = lambda envelope, queue, countdown=None: captured.append(envelope)  # type: ignore[method-assign]
    CeleryEventEmitter(app, linker=Traced).emit(event, *args)
    [envelope] = captured
    return envelope


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def traced_app(exporter: InMemorySpanExporter | None, **conf: Any) -> Celery:
    app = Celery("tracing-test", broker="memory://", set_as_current=False)
    app.conf.events_default_queue = f"utest-{uuid.uuid4().hex[:12]}"
    app.conf.task_always_eager = True
    if exporter is not None:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        app.conf.events_tracer_provider = provider
    app.conf.update(conf)
    events_celery.install(app)
    return app


@pytest.fixture
def app(exporter: InMemorySpanExporter) -> Iterator[Celery]:
    celery_app = traced_app(exporter)
    yield celery_app
    celery_app.close()


def test_one_trace_runs_from_the_emit_to_each_handler(
    app: Celery, exporter: InMemorySpanExporter
) -> None:
    emission = CeleryEventEmitter(app, linker=Traced).emit("traced.order", 3)

    assert emission is not None
    spans = {span.name: span for span in exporter.get_finished_spans()}
    publish = spans["publish traced.order"]
    process = spans["process traced.order"]
    ok = spans[f"handle {__name__}:fine"]
    failed = spans[f"handle {__name__}:broken"]
    assert len({span.context.trace_id for span in spans.values()}) == 1
    assert publish.kind is SpanKind.PRODUCER
    assert process.kind is SpanKind.CONSUMER
    assert process.parent is not None
    assert process.parent.span_id == publish.context.span_id
    assert ok.parent is not None
    assert failed.parent is not None
    assert ok.parent.span_id == failed.parent.span_id == process.context.span_id
    assert publish.attributes is not None
    assert publish.attributes["messaging.message.id"] == emission.id
    assert publish.attributes["messaging.destination.name"] == app.conf.events_default_queue
    assert publish.attributes["messaging.operation"] == "publish"
    assert publish.attributes["events.event"] == "traced.order"
    assert "events.attempt" not in publish.attributes
    assert process.attributes is not None
    assert process.attributes["events.attempt"] == 1
    assert ok.attributes is not None
    assert ok.attributes["events.handler"] == f"{__name__}:fine"
    assert ok.attributes["code.function.name"] == f"{__name__}.fine"
    assert ok.status.status_code is StatusCode.UNSET
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "ValueError: order 3 is invalid"
    [event] = failed.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "ValueError"
    assert process.status.status_code is StatusCode.ERROR
    assert ok.start_time is not None
    assert failed.start_time is not None
    assert ok.end_time is not None
    assert ok.start_time <= ok.end_time <= failed.start_time


def test_the_trace_context_travels_in_the_signed_meta(exporter: InMemorySpanExporter) -> None:
    app = traced_app(exporter, task_always_eager=False, events_signing_key="k")

    envelope = capture_envelope(app, "traced.order", 1)

    assert '"trace":{"traceparent":"00-' in envelope.body


def test_without_an_sdk_nothing_is_added_to_the_message() -> None:
    app = traced_app(None, task_always_eager=False)

    assert runtime_of(app).addon(TracingAddon) is not None
    assert '"trace"' not in capture_envelope(app, "traced.order", 1).body


def test_tracing_switched_off_makes_no_spans(exporter: InMemorySpanExporter) -> None:
    app = traced_app(exporter, events_tracing=False)

    CeleryEventEmitter(app, linker=Traced).emit("traced.order", 3)

    addon = runtime_of(app).addon(TracingAddon)
    assert addon is not None
    assert not addon.enabled
    assert exporter.get_finished_spans() == ()


def test_a_replayed_emission_stays_in_the_emit_trace_and_links_to_it(
    exporter: InMemorySpanExporter,
) -> None:
    app = traced_app(exporter, task_always_eager=False)
    envelope = capture_envelope(app, "traced.order", 4)
    frame = json.loads(envelope.body)
    frame["meta"]["replayed_from"] = "letter-1"
    replayed = Envelope(
        id=envelope.id, event=envelope.event, codec=envelope.codec, body=json.dumps(frame)
    )

    app.tasks[TASK_NAME].apply(args=(replayed.to_message(),))

    spans = {span.name: span for span in exporter.get_finished_spans()}
    publish, process = spans["publish traced.order"], spans["process traced.order"]
    assert process.context.trace_id == publish.context.trace_id
    assert [link.context.span_id for link in process.links] == [publish.context.span_id]
    assert process.attributes is not None
    assert process.attributes["events.replayed_from"] == "letter-1"


def test_the_publish_span_names_the_queue_a_route_picked(exporter: InMemorySpanExporter) -> None:
    queue = f"utest-routed-{uuid.uuid4().hex[:8]}"
    app = traced_app(exporter, events_routes={"traced.order": queue})

    CeleryEventEmitter(app, linker=Traced).emit("traced.order", 3)

    [publish] = [span for span in exporter.get_finished_spans() if span.name.startswith("publish")]
    assert publish.attributes is not None
    assert publish.attributes["messaging.destination.name"] == queue
    app.close()


def test_an_unsampled_emit_keeps_the_worker_from_recording_its_run(
    exporter: InMemorySpanExporter,
) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    producer = traced_app(
        None, task_always_eager=False, events_tracer_provider=TracerProvider(sampler=ALWAYS_OFF)
    )
    envelope = capture_envelope(producer, "traced.order", 1)
    # The SDK's default sampler follows the parent's decision, here "not sampled".
    worker = traced_app(exporter, task_always_eager=False)

    worker.tasks[TASK_NAME].apply(args=(envelope.to_message(),))

    carrier = json.loads(envelope.body)["meta"]["trace"]
    version, _, _, flags = carrier["traceparent"].split("-")
    assert version == "00"
    assert int(flags, 16) & 1 == 0  # not sampled
    assert exporter.get_finished_spans() == ()
    producer.close()
    worker.close()
