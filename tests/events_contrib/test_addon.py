"""events-contrib as an add-on of events-celery: routes, failure policy, queue checks."""

from __future__ import annotations

import pytest
from celery import Celery
from kombu import Queue

import events_celery
import events_contrib
from events_celery import CeleryEventEmitter
from events_contrib import ConfigurationError, UnknownQueueError
from events_contrib.addon import ContribAddon
from events_contrib.policy import ContribFailurePolicy
from events_core import EventLinker


class Shop(EventLinker):
    """Handlers of these tests."""


def on_order(order_id: int) -> None:
    """A module-level handler a worker could import."""


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
