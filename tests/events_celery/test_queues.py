"""`install` routes `events.execute` and declares the events queue as Celery expects."""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from events_celery import install
from events_celery.publisher import TASK_NAME
from events_celery.queues import EventsRoute, missing_queues


def route_of(app: Celery, name: str = TASK_NAME) -> str:
    return str(app.amqp.router.route({}, name)["queue"].name)


def test_events_execute_is_routed_to_the_default_events_queue(app: Celery) -> None:
    install(app)

    assert route_of(app) == app.conf.events_default_queue
    assert route_of(app, "shop.other_task") == "celery"


def test_the_route_follows_the_default_queue_when_install_runs_again(app: Celery) -> None:
    install(app)
    app.conf.events_default_queue = "moved"

    install(app)

    assert route_of(app) == "moved"
    assert sum(isinstance(router, EventsRoute) for router in app.conf.task_routes) == 1


def test_a_route_the_user_set_for_events_execute_wins(app: Celery) -> None:
    app.conf.task_routes = {TASK_NAME: {"queue": "mine"}}

    install(app)

    assert route_of(app) == "mine"


def test_the_events_queue_is_declared_beside_celerys_default_one(app: Celery) -> None:
    install(app)

    assert set(app.amqp.queues) == {"celery", app.conf.events_default_queue}


def test_queues_the_user_declared_are_left_as_they_are(app: Celery) -> None:
    app.conf.task_queues = [Queue("only-this")]

    install(app)

    assert [queue.name for queue in app.conf.task_queues] == ["only-this"]


def test_a_worker_misses_events_only_when_it_consumes_none_of_their_queues() -> None:
    assert missing_queues(["celery"], ["events", "orders"]) == ["events", "orders"]
    assert missing_queues(["celery", "orders"], ["events", "orders"]) == []
