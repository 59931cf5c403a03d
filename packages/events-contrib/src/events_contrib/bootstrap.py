"""`install(app)`: plugs events-contrib into an app by hand.

events-celery's `install` already finds events-contrib through its entry point, so calling
this is needed only where entry points are not installed (a vendored copy); it is harmless.
"""

from __future__ import annotations

from celery import Celery

import events_celery
from events_contrib.addon import ContribAddon


def install(app: Celery) -> ContribAddon:
    """Install `app` for events with events-contrib's add-on, and return the add-on.

    Raises:
        ConfigurationError: a setting of the wrong shape, naming it.
        UnknownQueueError: with `task_create_missing_queues=False`, a route names a queue
            missing from `task_queues`.
    """
    runtime = events_celery.install(app, addons=[ContribAddon()])
    addon = runtime.addon(ContribAddon)
    assert addon is not None
    return addon
