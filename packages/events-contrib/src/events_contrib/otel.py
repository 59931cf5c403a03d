"""The spans of `TracingAddon`, made with the OpenTelemetry API (imported only when tracing is on).

Handler spans are made after the run, from each `HandlerOutcome` with explicit start and end
times: events-core runs the handlers and has no hook around each one. A handler span starts
where the previous handler ended (inline handlers run one after the other) or at the start of
the run (async handlers run concurrently) and lasts the outcome's `duration`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from celery import Celery
from opentelemetry import context, propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from events_celery.addons import Delivery, Outgoing
from events_contrib.__about__ import __version__
from events_core.report import EmissionReport

SYSTEMS = {"amqp": "rabbitmq", "pyamqp": "rabbitmq", "redis": "redis", "rediss": "redis"}
"""`messaging.system` by broker URL scheme; other schemes are named as they are."""

TRACE_META = "trace"
"""Key of the body's `meta` holding the W3C trace context of the emit."""

_NOTE = "events_contrib_tracing"
_local = threading.local()


class Spans:
    """Makes one app's spans.

    Args:
        app: the Celery app (its broker names `messaging.system`).
        provider: a `TracerProvider`, or None for the global one.
        default_queue: where an emission goes when nothing routes it (`events_default_queue`).
    """

    def __init__(
        self, app: Celery, provider: Any = None, default_queue: str | None = None
    ) -> None:
        self.tracer = trace.get_tracer("events_contrib", __version__, tracer_provider=provider)
        self.default_queue = default_queue
        scheme = urlsplit(str(app.conf.broker_url or "")).scheme.partition("+")[0]
        self.system = SYSTEMS.get(scheme, scheme or "celery")

    # producer -----------------------------------------------------------------------------

    def start_publish(self, outgoing: Outgoing) -> None:
        """Start the PRODUCER span of an emit and inject its context into `outgoing.meta`."""
        emission = outgoing.emission
        attributes: dict[str, Any] = {
            "messaging.system": self.system,
            "messaging.operation": "publish",
            "messaging.message.id": emission.id,
            "events.event": emission.event,
        }
        if emission.attempt > 1:
            attributes["events.attempt"] = emission.attempt
        # A later add-on may still route it: `end_publish` corrects the queue then.
        queue = outgoing.queue or self.default_queue
        if queue is not None:
            attributes["messaging.destination.name"] = queue
        span = self.tracer.start_span(
            f"publish {emission.event}", kind=SpanKind.PRODUCER, attributes=attributes
        )
        outgoing.notes[_NOTE] = (span, queue)
        # An unsampled span's context travels too: the worker follows the decision.
        if span.get_span_context().is_valid:
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            if carrier:
                outgoing.meta[TRACE_META] = carrier

    def end_publish(self, outgoing: Outgoing, error: BaseException | None) -> None:
        """End the PRODUCER span with its destination queue, or as an error."""
        noted = outgoing.notes.pop(_NOTE, None)
        if noted is None:
            return
        span, named = noted
        if outgoing.queue is not None and outgoing.queue != named:
            span.set_attribute("messaging.destination.name", outgoing.queue)
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()

    # consumer -----------------------------------------------------------------------------

    def start_process(self, delivery: Delivery) -> None:
        """Start the CONSUMER span of one execution, as a child of the emit's span."""
        emission = delivery.emission
        extra = delivery.body.meta.extra
        parent = propagate.extract(_carrier(extra.get(TRACE_META)))
        links = []
        replayed = extra.get("replayed_from")
        if emission.attempt > 1 or replayed:
            origin = trace.get_current_span(parent).get_span_context()
            if origin.is_valid:
                # The parent already is the emit's span; the link says this run repeats one.
                links.append(Link(origin, {"events.attempt": emission.attempt}))
        attributes: dict[str, Any] = {
            "messaging.system": self.system,
            "messaging.operation": "process",
            "messaging.destination.name": delivery.body.meta.queue,
            "messaging.message.id": emission.id,
            "events.event": emission.event,
            "events.attempt": emission.attempt,
        }
        if isinstance(replayed, str):
            attributes["events.replayed_from"] = replayed
        span = self.tracer.start_span(
            f"process {emission.event}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
        )
        token = context.attach(trace.set_span_in_context(span))
        _local.current = (span, token, time.time_ns())

    def handlers(self, delivery: Delivery, report: EmissionReport) -> None:
        """Add one child span per handler, from the report, and one per unregistered ref."""
        current = getattr(_local, "current", None)
        if current is None:
            return
        span, _, started = current
        if not span.is_recording():
            return
        parent = trace.set_span_in_context(span)
        inline = delivery.emission.runs_inline
        start = started
        for outcome in report.outcomes:
            end = start + int(outcome.duration * 1e9)
            child = self.tracer.start_span(
                f"handle {outcome.handler}",
                context=parent,
                attributes=_handler_attributes(outcome.handler),
                start_time=start,
            )
            if outcome.exception is not None:
                exc = outcome.exception
                child.record_exception(exc, timestamp=end)
                child.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            child.end(end_time=end)
            if inline:
                start = end
        for ref in delivery.unregistered:
            child = self.tracer.start_span(
                f"handle {ref}", context=parent, attributes={"events.handler": ref}
            )
            child.set_status(Status(StatusCode.ERROR, "unregistered on this worker"))
            child.end()

    def end_process(self, outcome: str | None) -> None:
        """End the CONSUMER span; `outcome` names what became of failed handlers, if any."""
        current = getattr(_local, "current", None)
        if current is None:
            return
        _local.current = None
        span, token, _ = current
        context.detach(token)
        if outcome is not None:
            span.set_attribute("events.outcome", str(outcome))
            span.set_status(Status(StatusCode.ERROR, f"handlers failed ({outcome})"))
        span.end()


def _carrier(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {key: item for key, item in value.items() if isinstance(item, str)}


@functools.lru_cache(maxsize=4096)
def _handler_attributes(ref: str) -> Mapping[str, Any]:
    """A handler span's attributes (the SDK copies them; handler refs are bounded)."""
    module, _, qualname = ref.partition(":")
    return {"events.handler": ref, "code.function.name": f"{module}.{qualname}"}
