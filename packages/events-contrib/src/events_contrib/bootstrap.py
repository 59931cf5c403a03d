"""`install(app)`: plugs routing, retries and the dead-letter queue into events-celery.

events-celery's `install` calls it through the `events_celery.addons` entry point, so having
events-contrib installed is enough; calling it yourself is harmless.
"""

from __future__ import annotations

from celery import Celery

from events_celery.runtime import EventsRuntime, Route, runtime_of
from events_contrib.errors import UnknownQueueError
from events_contrib.policy import ContribFailurePolicy
from events_contrib.routing import Router
from events_contrib.settings import ContribSettings
from events_core.emission import EventEmission


def install(app: Celery) -> None:
    """Read `events_routes`, `events_retry` and `events_dead_letter` and plug them in.

    Raises:
        ConfigurationError: a setting of the wrong shape, naming it.
        UnknownQueueError: with `task_create_missing_queues=False`, a route names a queue
            missing from `task_queues`.
    """
    runtime = runtime_of(app)
    settings = ContribSettings.from_settings(runtime.settings)
    _check_queues(app, settings)
    router = settings.router
    runtime.route = None if router is None else _route_with(router)
    runtime.failure_policy = ContribFailurePolicy(runtime, settings)


def contrib_settings(app: Celery) -> ContribSettings:
    """The validated events-contrib settings of `app`."""
    runtime: EventsRuntime = runtime_of(app)
    policy = runtime.failure_policy
    if isinstance(policy, ContribFailurePolicy):
        return policy.settings
    return ContribSettings.from_settings(runtime.settings)


def _route_with(router: Router) -> Route:
    def route(emission: EventEmission) -> str:
        if emission.kind == "class" and emission.args:
            return router.route_for(emission.args[0])
        return router.route_for(emission.event)

    return route


def _check_queues(app: Celery, settings: ContribSettings) -> None:
    if settings.router is None or app.conf.task_create_missing_queues:
        return
    configured = {queue.name for queue in app.conf.task_queues or ()}
    for pattern, queue in settings.router.routes.items():
        if queue not in configured:
            raise UnknownQueueError(pattern, queue)
    if settings.router.default not in configured:
        raise UnknownQueueError("(default)", settings.router.default)
