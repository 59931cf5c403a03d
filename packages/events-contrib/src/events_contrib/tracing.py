"""`TracingAddon`: OpenTelemetry spans of emissions and handlers (`events-contrib[otel]`).

On whenever `opentelemetry-api` is installed, and a no-op until the application configures an
SDK, as OpenTelemetry asks of libraries; `events_tracing = False` switches it off entirely.

```python
app.conf.events_tracing = False                   # no spans, no trace context on the wire
app.conf.events_tracer_provider = provider        # a TracerProvider other than the global one
```

Spans follow OpenTelemetry's messaging conventions: a PRODUCER span per emit, a CONSUMER span
per execution on a worker (a child of the emit's span, whose context travels in the signed
envelope's `meta`, so retries and replays stay in the emit's trace), and a child span per
handler, marked as an error with the exception recorded when the handler failed.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from events_celery.addons import Addon, Delivery, Failure, Outcome, Outgoing
from events_celery.runtime import EventsRuntime
from events_celery.settings import Option
from events_contrib.errors import ConfigurationError
from events_core.report import EmissionReport

if TYPE_CHECKING:
    from events_contrib.otel import Spans


def _tracing(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError("events_tracing", f"expected True or False, got {value!r}")
    return value


OPTIONS: tuple[Option, ...] = (
    Option(
        "events_tracing",
        None,
        "`False` switches spans off; `True` requires opentelemetry-api; unset: on when it is "
        "installed (a no-op until an SDK is configured).",
        _tracing,
    ),
    Option(
        "events_tracer_provider",
        None,
        "The OpenTelemetry `TracerProvider` to make spans with; unset: the global one.",
    ),
)
"""The settings of the tracing add-on."""


class TracingAddon(Addon):
    """Makes producer, consumer and handler spans, and carries the trace context."""

    name = "events_contrib_tracing"
    options = OPTIONS
    enabled = False

    spans: Spans | None = None

    def setup(self, runtime: EventsRuntime) -> None:
        """Turn on unless `events_tracing` is False or opentelemetry-api is missing.

        Raises:
            ConfigurationError: `events_tracing = True` without opentelemetry-api.
        """
        wanted = runtime.settings.value("events_tracing")
        installed = importlib.util.find_spec("opentelemetry") is not None and (
            importlib.util.find_spec("opentelemetry.trace") is not None
        )
        if wanted and not installed:
            raise ConfigurationError(
                "events_tracing",
                "tracing needs opentelemetry-api: pip install 'events-contrib[otel]'",
            )
        self.enabled = installed and wanted is not False
        if not self.enabled:
            self.spans = None
            return
        from events_contrib.otel import Spans

        self.spans = Spans(
            runtime.app,
            runtime.settings.value("events_tracer_provider"),
            runtime.settings.default_queue,
        )

    def before_publish(self, outgoing: Outgoing) -> None:
        """Start the PRODUCER span and put its context into the body's `meta`."""
        assert self.spans is not None
        self.spans.start_publish(outgoing)

    def after_publish(
        self, outgoing: Outgoing, seconds: float, error: BaseException | None
    ) -> None:
        """End the PRODUCER span, with the queue it went to or the error."""
        assert self.spans is not None
        self.spans.end_publish(outgoing, error)

    def before_run(self, delivery: Delivery) -> None:
        """Start the CONSUMER span, a child of the emit's span."""
        assert self.spans is not None
        self.spans.start_process(delivery)

    def after_run(self, delivery: Delivery, report: EmissionReport) -> None:
        """Add a span per handler; end the CONSUMER span when every handler succeeded."""
        assert self.spans is not None
        self.spans.handlers(delivery, report)
        if report.ok and not delivery.unregistered:
            self.spans.end_process(None)

    def after_failure(self, failure: Failure, outcome: Outcome | None) -> None:
        """End the CONSUMER span with what became of the failure."""
        assert self.spans is not None
        self.spans.end_process(outcome or "failed")
