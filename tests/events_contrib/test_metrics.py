"""The metrics add-on in one process: off until configured, then bounded labels and counts.

Tasks are applied in-process (`Task.apply`); the counts go to prometheus_client's default
registry, so each test reads differences.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

import events_celery
from events_celery import CeleryEventEmitter
from events_celery.body import Body, Meta
from events_celery.bootstrap import runtime_of
from events_celery.publisher import TASK_NAME
from events_contrib import ConfigurationError, RetryPolicy
from events_contrib.metrics import OTHER_EVENT, UNREGISTERED_HANDLER, MetricsAddon
from events_core import EventLinker
from events_core.emission import new_emission_id

prometheus_client = pytest.importorskip("prometheus_client")
REGISTRY = prometheus_client.REGISTRY


class Metered(EventLinker):
    """Handlers of these tests."""


def fine(order_id: int) -> None:
    """Succeeds."""


def broken(order_id: int) -> None:
    """Always fails."""
    raise ValueError("broken")


Metered.subscribe("metered.ok", event_callback=fine)
Metered.subscribe("metered.mixed", event_callback=fine)
Metered.subscribe("metered.mixed", event_callback=broken)


def anything(order_id: int) -> None:
    """Subscribed to every event."""


Metered.subscribe(..., event_callback=anything)

FINE = f"{__name__}:fine"
ANYTHING = f"{__name__}:anything"
BROKEN = f"{__name__}:broken"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def app() -> Iterator[Celery]:
    celery_app = Celery("metrics-test", broker="memory://", set_as_current=False)
    celery_app.conf.events_default_queue = f"utest-{uuid.uuid4().hex[:12]}"
    celery_app.conf.events_metrics = True
    yield celery_app
    celery_app.close()


def run(app: Celery, event: str, handlers: tuple[str, ...] | None = None, attempt: int = 1) -> Any:
    body = Body(
        kind="name",
        linker=Metered.path(),
        handlers=handlers,
        timestamp=1718000000.0,
        headers={},
        meta=Meta(attempt=attempt, queue=app.conf.events_default_queue),
        args=(1,),
        kwargs={},
    )
    envelope = runtime_of(app).publisher.seal(new_emission_id(), event, body)
    return app.tasks[TASK_NAME].apply(args=(envelope.to_message(),))


def test_the_addon_is_off_and_hooks_nothing_until_configured() -> None:
    app = Celery("metrics-off", broker="memory://", set_as_current=False)

    runtime = events_celery.install(app)

    addon = runtime.addon(MetricsAddon)
    assert addon is not None
    assert not addon.enabled
    before = value("events_emitted_total", event="metered.ok")
    CeleryEventEmitter(app, linker=Metered).emit("metered.ok", 1)
    assert value("events_emitted_total", event="metered.ok") == before


def test_a_bad_metrics_setting_is_refused_naming_it() -> None:
    app = Celery("metrics-bad", broker="memory://", set_as_current=False)
    app.conf.events_metrics_port = "9000"

    with pytest.raises(ConfigurationError, match="events_metrics_port"):
        events_celery.install(app)


def test_published_emissions_are_counted_and_timed(app: Celery) -> None:
    before = value("events_emitted_total", event="metered.ok")
    timed = value("events_publish_duration_seconds_count")

    CeleryEventEmitter(app, linker=Metered).emit("metered.ok", 1)
    CeleryEventEmitter(app, linker=Metered).emit("metered.ok", 2)

    assert value("events_emitted_total", event="metered.ok") == before + 2
    assert value("events_publish_duration_seconds_count") == timed + 2


def test_each_handler_is_counted_by_outcome_and_timed(app: Celery) -> None:
    labels = {"event": "metered.mixed"}
    ok = value("events_handled_total", **labels, handler=FINE, outcome="success")
    failed = value("events_handled_total", **labels, handler=BROKEN, outcome="failure")
    timed = value("events_handler_duration_seconds_count", **labels, handler=BROKEN)

    run(app, "metered.mixed")

    assert value("events_handled_total", **labels, handler=FINE, outcome="success") == ok + 1
    assert value("events_handled_total", **labels, handler=BROKEN, outcome="failure") == (
        failed + 1
    )
    assert value("events_handler_duration_seconds_count", **labels, handler=BROKEN) == timed + 1


def test_a_retried_handler_is_counted_as_retry(app: Celery) -> None:
    app.conf.events_retry = RetryPolicy(max_attempts=3)
    labels = {"event": "metered.mixed", "handler": BROKEN}
    retried = value("events_handled_total", **labels, outcome="retry")

    run(app, "metered.mixed")

    assert value("events_handled_total", **labels, outcome="retry") == retried + 1
    assert value("events_handled_total", **labels, outcome="failure") == value(
        "events_handled_total", **labels, outcome="failure"
    )


def test_a_dead_lettered_handler_is_counted_with_its_dead_letter(app: Celery) -> None:
    app.conf.events_dead_letter = True
    labels = {"event": "metered.mixed"}
    dead = value("events_handled_total", **labels, handler=BROKEN, outcome="dead_letter")
    letters = value("events_dead_letters_total", **labels, reason="failed")

    run(app, "metered.mixed")

    assert value("events_handled_total", **labels, handler=BROKEN, outcome="dead_letter") == (
        dead + 1
    )
    assert value("events_dead_letters_total", **labels, reason="failed") == letters + 1


def test_labels_never_come_from_the_message(app: Celery) -> None:
    other = value("events_handled_total", event=OTHER_EVENT, handler=ANYTHING, outcome="success")
    unknown = value(
        "events_handled_total",
        event="metered.ok",
        handler=UNREGISTERED_HANDLER,
        outcome="failure",
    )

    run(app, f"made-up-{uuid.uuid4().hex}")
    run(app, "metered.ok", handlers=(FINE, f"evil:{uuid.uuid4().hex}"))

    assert value(
        "events_handled_total", event=OTHER_EVENT, handler=ANYTHING, outcome="success"
    ) == (other + 1)
    assert value(
        "events_handled_total",
        event="metered.ok",
        handler=UNREGISTERED_HANDLER,
        outcome="failure",
    ) == (unknown + 1)
    names = {
        sample.labels.get("handler", "")
        for metric in REGISTRY.collect()
        for sample in metric.samples
    }
    assert not any(name.startswith("evil:") for name in names)


def test_a_refused_message_is_counted_by_its_reason_only(app: Celery) -> None:
    runtime_of(app)
    refused = value("events_rejected_total", reason="malformed")

    app.tasks[TASK_NAME].apply(args=({"v": 99, "event": "x"},))

    assert value("events_rejected_total", reason="malformed") == refused + 1
