"""`ContribAddon`: routing, retries and dead letters, plugged into events-celery.

events-celery's `install` finds it through the `events_celery.addons` entry point, so having
events-contrib installed is enough.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from events_celery.addons import Addon, Failure, Outcome, Outgoing, Rejection
from events_celery.runtime import EventsRuntime
from events_contrib.errors import UnknownQueueError
from events_contrib.policy import ContribFailurePolicy
from events_contrib.routing import Router
from events_contrib.settings import OPTIONS, ContribSettings


class ContribAddon(Addon):
    """Routes emissions by event, retries failed handlers and dead-letters the rest."""

    name = "events_contrib"
    options = OPTIONS

    router: Router | None = None
    policy: ContribFailurePolicy | None = None

    def setup(self, runtime: EventsRuntime) -> None:
        """Validate `events_routes`, `events_retry` and `events_dead_letter` together.

        Raises:
            ConfigurationError: a setting of the wrong shape, naming it.
            UnknownQueueError: with `task_create_missing_queues=False`, a route names a queue
                missing from `task_queues`.
        """
        settings = ContribSettings.from_settings(runtime.settings)
        _check_queues(runtime.app, settings)
        self.router = settings.router
        self.policy = ContribFailurePolicy(runtime, settings)

    def queues(self) -> Sequence[str]:
        """The queues the routes name, so workers guard them as queues of events."""
        if self.router is None:
            return ()
        return (*self.router.routes.values(), self.router.default)

    def before_publish(self, outgoing: Outgoing) -> None:
        """Pick the routed queue, unless the emitter was given one."""
        if self.router is None or outgoing.fixed:
            return
        emission = outgoing.emission
        if emission.kind == "class" and emission.args:
            outgoing.queue = self.router.route_for(emission.args[0])
        else:
            outgoing.queue = self.router.route_for(emission.event)

    def on_failure(self, failure: Failure) -> Outcome | None:
        """Retry what may be retried, dead-letter the rest (see `ContribFailurePolicy`)."""
        assert self.policy is not None
        return self.policy.on_failure(failure)

    def on_rejection(self, rejection: Rejection) -> bool:
        """Dead-letter a refused message when a dead-letter queue is configured."""
        assert self.policy is not None
        return self.policy.on_rejection(rejection)


def _check_queues(app: Celery, settings: ContribSettings) -> None:
    if settings.router is None or app.conf.task_create_missing_queues:
        return
    configured = {queue.name for queue in app.conf.task_queues or ()}
    for pattern, queue in settings.router.routes.items():
        if queue not in configured:
            raise UnknownQueueError(pattern, queue)
    if settings.router.default not in configured:
        raise UnknownQueueError("(default)", settings.router.default)
