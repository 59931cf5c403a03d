"""The tutorial's app with traces and metrics on (optional last step of the tutorial).

Start a worker with it instead of worker.py:
    celery -A telemetry worker -l INFO -Q events
Each span is printed in the worker's terminal; metrics are on http://127.0.0.1:9808/metrics.
"""

import os

import event_handlers  # noqa: F401  (importing it registers the handlers)
from celery import Celery
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import events_celery

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
trace.set_tracer_provider(provider)

app = Celery("tutorial")
app.config_from_object("celeryconfig")
app.conf.events_metrics_port = int(os.environ.get("EVENTS_METRICS_PORT") or 9808)
events_celery.install(app)
