"""`EventsRuntime`: what `install` set up on one Celery app, kept on the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from celery import Celery

from events_celery.addons import Addon, AddonChain
from events_celery.errors import ConfigurationError
from events_celery.publisher import Publisher
from events_celery.settings import EventsSettings

A = TypeVar("A", bound=Addon)

RUNTIME_ATTRIBUTE = "_events_runtime"
"""Attribute of a Celery app where `install` keeps its runtime."""


@dataclass
class EventsRuntime:
    """One app's settings, executing task, publisher and add-ons.

    Attributes:
        app: the Celery app.
        settings: the validated `events_*` settings, add-ons' included.
        task: the registered `events.execute` task.
        publisher: seals and publishes envelopes for this app.
        addons: the app's add-ons, in the order their hooks run.
    """

    app: Celery
    settings: EventsSettings
    task: Any
    publisher: Publisher
    addons: AddonChain = field(default_factory=AddonChain)

    def addon(self, kind: type[A]) -> A | None:
        """The installed add-on of class `kind` (or a subclass), if any."""
        for addon in self.addons.addons:
            if isinstance(addon, kind):
                return addon
        return None


def attached_runtime(app: Celery) -> EventsRuntime:
    """The runtime `install` attached to `app`.

    Raises:
        ConfigurationError: `install(app)` was never called.
    """
    runtime = getattr(app, RUNTIME_ATTRIBUTE, None)
    if not isinstance(runtime, EventsRuntime):
        raise ConfigurationError("app", "events_celery.install(app) was not called on this app")
    return runtime
