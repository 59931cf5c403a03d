"""The worker app of `observability.py`: `celery -A observability_worker worker`.

Configured from the environment the benchmark sets: `BENCH_BROKER_URL`, `BENCH_QUEUE`,
`BENCH_COUNTER` (the Redis key the handler increments) and `BENCH_OBSERVE` (`on`: tracing with
the OpenTelemetry SDK exporting in batches to an exporter that drops spans, and metrics served
on `BENCH_METRICS_PORT`; `api`: the same with OpenTelemetry's no-op provider instead of the
SDK, as in an application that has not configured one; `off`: `events_tracing = False`, no
metrics).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import redis
from celery import Celery

import events_celery
from events_contrib import Backoff, RetryPolicy
from events_core import EventLinker, current_emission

COUNTER_URL = "redis://127.0.0.1:6379/14"
EVENT = "bench.observed"
FLAKY = "bench.observed.flaky"

_client: redis.Redis | None = None


class Observed(EventLinker):
    """Linker used only by this benchmark."""


@Observed.on(EVENT)
def count(order_id: int) -> None:
    """A cheap handler: one Redis INCR, so the benchmark knows when every message ran."""
    global _client
    if _client is None or getattr(_client, "_pid", None) != os.getpid():
        _client = redis.Redis.from_url(COUNTER_URL)
        _client._pid = os.getpid()  # type: ignore[attr-defined]
    _client.incr(os.environ["BENCH_COUNTER"])


@Observed.on(FLAKY)
def sometimes(order_id: int) -> None:
    """Fails the first run of one order in four, and every run of one in twenty."""
    if order_id % 20 == 0 or (order_id % 4 == 0 and current_emission().attempt == 1):
        raise ConnectionError(f"order {order_id}: gateway timed out")


def tracer_provider() -> Any:
    """An SDK provider whose spans are batched, then dropped: the cost of a real exporter's
    bookkeeping, without a collector. It records the share `BENCH_SAMPLE_RATIO` of the traces
    (default 1: all of them)."""
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    ratio = float(os.environ.get("BENCH_SAMPLE_RATIO", "1"))
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    return provider


def observed_conf(mode: str, metrics_port: int | None = None) -> dict[str, Any]:
    """The settings of one side of the benchmark, `off`, `api` or `on` (producer: no port)."""
    if mode == "off":
        return {"events_tracing": False}
    if mode == "api":
        from opentelemetry.trace import NoOpTracerProvider

        provider: Any = NoOpTracerProvider()
    else:
        provider = tracer_provider()
    conf: dict[str, Any] = {"events_tracer_provider": provider, "events_metrics": True}
    if metrics_port is not None:
        conf.update(events_metrics_port=metrics_port, events_metrics_address="127.0.0.1")
    return conf


if "BENCH_QUEUE" in os.environ:
    app = Celery("bench-observed", broker=os.environ["BENCH_BROKER_URL"])
    port = int(os.environ.get("BENCH_METRICS_PORT", "0")) or None
    app.conf.update(
        events_retry=RetryPolicy(max_attempts=2, backoff=Backoff(initial=0.5, jitter=False)),
        events_default_queue=os.environ["BENCH_QUEUE"],
        task_default_queue=os.environ["BENCH_QUEUE"],
        broker_connection_retry_on_startup=True,
        **observed_conf(os.environ["BENCH_OBSERVE"], port),
    )
    events_celery.install(app)
