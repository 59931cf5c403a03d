"""events-contrib as an add-on of events-celery: routes, failure policy, queue checks."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery
from kombu import Queue

import events_celery
import events_contrib
from events_celery import CeleryEventEmitter
from events_celery.addons import Addon, Delivery, Failure, Outcome, Outgoing
from events_celery.runtime import EventsRuntime
from events_celery.settings import Option
from events_contrib import ConfigurationError, DeadLetterQueue, UnknownQueueError
from events_contrib.addon import ContribAddon
from events_contrib.policy import ContribFailurePolicy
from events_core import EmissionReport, EventLinker


class Shop(EventLinker):
    """Handlers of these tests."""


def on_order(order_id: int) -> None:
    """A module-level handler a worker could import."""


def broken(order_id: int) -> None:
    """A handler that always fails."""
    raise ValueError("order is invalid")


def _label(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError("events_audit_label", f"expected a label, got {value!r}")
    return value.upper()


Shop.subscribe("order.placed", "user.created", event_callback=on_order)


def app_with(**conf: object) -> Celery:
    app = Celery("bootstrap-test", broker="memory://")
    app.conf.update(conf)
    return app


def queued(app: Celery, queue: str) -> int:
    with app.connection_for_read() as connection:
        _, count, _ = Queue(queue).bind(connection.default_channel).queue_declare()
        return int(count)


def test_installing_events_celery_plugs_in_events_contrib_through_its_entry_point() -> None:
    app = app_with(events_routes={"order.*": "orders"})

    runtime = events_celery.install(app)

    addon = runtime.addon(ContribAddon)
    assert addon is not None
    assert "events_contrib" in runtime.addons.names
    assert isinstance(addon.policy, ContribFailurePolicy)
    assert addon.router is not None


def test_the_emitter_sends_to_the_routed_queue_unless_given_one() -> None:
    app = app_with(events_routes={"order.*": "orders"}, events_default_queue="main")
    events_celery.install(app)

    CeleryEventEmitter(app, linker=Shop).emit("order.placed", 1)
    CeleryEventEmitter(app, linker=Shop).emit("user.created", 2)
    CeleryEventEmitter(app, linker=Shop, queue="direct").emit("order.placed", 3)

    assert (queued(app, "orders"), queued(app, "main"), queued(app, "direct")) == (1, 1, 1)


def test_invalid_routes_are_refused_at_install_time() -> None:
    with pytest.raises(ConfigurationError, match="events_routes"):
        events_celery.install(app_with(events_routes={"order.*": ""}))


def test_a_route_to_an_unknown_queue_is_refused_when_celery_creates_no_missing_queues() -> None:
    app = app_with(
        events_routes={"order.*": "orders"},
        task_create_missing_queues=False,
        task_queues=[Queue("events")],
    )

    with pytest.raises(UnknownQueueError) as raised:
        events_celery.install(app)

    assert (raised.value.event, raised.value.queue) == ("order.*", "orders")
    assert "task_queues" in str(raised.value)


def test_routes_to_declared_queues_are_accepted_when_celery_creates_no_missing_queues() -> None:
    app = app_with(
        events_routes={"order.*": "orders"},
        task_create_missing_queues=False,
        task_queues=[Queue("events"), Queue("orders")],
    )

    addon = events_celery.install(app).addon(ContribAddon)
    assert addon is not None
    assert addon.router is not None


def test_installing_events_contrib_by_hand_keeps_the_one_its_entry_point_plugged_in() -> None:
    app = app_with()
    plugged = events_celery.install(app).addon(ContribAddon)

    addon = events_contrib.install(app)

    assert addon is plugged
    assert events_celery.install(app).addons.names.count("events_contrib") == 1


class Audit(Addon):
    """A test-only add-on installed beside events-contrib."""

    name = "audit"
    options = (Option("events_audit_label", "audit", "A label.", _label),)

    def __init__(self) -> None:
        self.seen: list[str] = []

    def setup(self, runtime: EventsRuntime) -> None:
        self.label = runtime.settings.value("events_audit_label")

    def before_publish(self, outgoing: Outgoing) -> None:
        self.seen.append(f"before_publish:{outgoing.queue}")

    def after_run(self, delivery: Delivery, report: EmissionReport) -> None:
        self.seen.append(f"after_run:{'ok' if report.ok else 'failed'}")

    def on_failure(self, failure: Failure) -> Outcome | None:
        self.seen.append("on_failure")
        return None


def test_an_add_on_beside_events_contrib_runs_its_hooks_after_it_in_order() -> None:
    audit = Audit()
    orders = f"orders-{uuid.uuid4().hex[:8]}"
    app = app_with(events_routes={"order.*": orders}, events_audit_label="shop")

    runtime = events_celery.install(app, addons=[audit])

    names = runtime.addons.names
    assert names.index("events_contrib") < names.index("audit") == len(names) - 1
    assert audit.label == "SHOP"
    CeleryEventEmitter(app, linker=Shop).emit("order.placed", 1)
    assert audit.seen == [f"before_publish:{orders}"]
    assert queued(app, orders) == 1


def test_events_contrib_and_the_add_on_beside_it_each_validate_their_settings() -> None:
    with pytest.raises(ConfigurationError) as contrib_refused:
        events_celery.install(app_with(events_retry="often"), addons=[Audit()])
    with pytest.raises(ConfigurationError) as audit_refused:
        events_celery.install(app_with(events_audit_label=""), addons=[Audit()])
    with pytest.raises(ConfigurationError) as misspelled:
        events_celery.install(app_with(events_audit_lable="shop"), addons=[Audit()])

    assert contrib_refused.value.setting == "events_retry"
    assert audit_refused.value.setting == "events_audit_label"
    assert misspelled.value.setting == "events_audit_lable"
    assert "did you mean 'events_audit_label'?" in str(misspelled.value)


def test_a_failure_is_seen_by_the_add_on_and_dead_lettered_by_events_contrib() -> None:
    audit = Audit()
    app = app_with(
        events_dead_letter=True,
        events_default_queue=f"main-{uuid.uuid4().hex[:8]}",
        task_always_eager=True,
    )
    events_celery.install(app, addons=[audit])
    Shop.subscribe("order.broken", event_callback=broken)
    try:
        CeleryEventEmitter(app, linker=Shop).emit("order.broken", 1)
    finally:
        Shop.remove_event("order.broken")

    assert audit.seen == ["before_publish:None", "after_run:failed"]
    [letter] = DeadLetterQueue(app).list()
    assert letter.reason == "failed"
