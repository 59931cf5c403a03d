"""Where events go, as Celery sees it: a route and a declared queue, and a worker's warning.

`install` routes `events.execute` to `events_default_queue` through Celery's own routing
(`task_routes`) and, when the app leaves `task_queues` unset, declares that queue beside
Celery's default one, so `celery call`, `celery purge` and a worker started without `-Q` all
see it. A worker that consumes none of the queues events are routed to logs one warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup

from events_celery.publisher import TASK_NAME
from events_celery.runtime import RUNTIME_ATTRIBUTE, EventsRuntime

logger = logging.getLogger(__name__)


class EventsRoute:
    """A Celery router that sends `events.execute` to the app's default events queue.

    It comes after the app's own routers, so a route the user set for `events.execute` wins.
    """

    def __init__(self, runtime: EventsRuntime) -> None:
        self.runtime = runtime

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> dict[str, str] | None:
        """The route of task `name`: ours for `events.execute`, none for other tasks."""
        if name != TASK_NAME:
            return None
        return {"queue": self.runtime.settings.default_queue}


def route_and_declare(runtime: EventsRuntime) -> None:
    """Route `events.execute` and declare the default events queue on the runtime's app."""
    app = runtime.app
    routes = app.conf.task_routes
    routers: tuple[Any, ...]
    if routes is None:
        routers = ()
    elif isinstance(routes, (list, tuple)):
        routers = tuple(routes)
    else:
        routers = (routes,)
    if not any(isinstance(router, EventsRoute) for router in routers):
        app.conf.task_routes = (*routers, EventsRoute(runtime))
        app.amqp.flush_routes()
    if app.conf.task_queues is None:
        # Celery's default queue as Celery would declare it, and ours beside it.
        queues = app.amqp.Queues(None)
        queues.add(runtime.settings.default_queue)
        app.conf.task_queues = list(queues.values())
        if "queues" in vars(app.amqp):
            app.amqp.queues = app.conf.task_queues


def missing_queues(consumed: Iterable[str], destinations: Iterable[str]) -> list[str]:
    """The queues events go to, if a worker consuming `consumed` takes none of them."""
    wanted = sorted(set(destinations))
    return [] if set(consumed) & set(wanted) else wanted


def warn_if_no_events_queue_is_consumed(sender: str, instance: Any, **kwargs: Any) -> None:
    """Log a warning when a starting worker consumes none of the queues events go to.

    Connected to Celery's `celeryd_after_setup` signal, sent once the `-Q` option applied.
    """
    app: Celery = instance.app
    runtime = getattr(app, RUNTIME_ATTRIBUTE, None)
    if not isinstance(runtime, EventsRuntime):
        return
    destinations = {runtime.settings.default_queue, *runtime.addons.destinations()}
    missing = missing_queues(app.amqp.queues.consume_from, destinations)
    if missing:
        logger.warning(
            "worker %s consumes none of the queues events are routed to (%s): no event will "
            "run here; start it with -Q %s",
            sender,
            ", ".join(missing),
            ",".join(missing),
        )


celeryd_after_setup.connect(warn_if_no_events_queue_is_consumed, weak=False)
