"""`install(app)`: bootstraps a Celery app for events, and the per-app runtime it keeps.

```python
app = Celery("shop", broker="redis://127.0.0.1:6379/0")
events_celery.install(app, signing_key=os.environ["EVENTS_SIGNING_KEY"])
```
"""

from __future__ import annotations

import logging
import threading
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from celery import Celery

from events_celery.body import Body
from events_celery.envelope import Envelope
from events_celery.errors import ConfigurationError, EnvelopeError, PublishError
from events_celery.settings import EventsSettings
from events_core.emission import EventEmission
from events_core.report import EmissionReport

if TYPE_CHECKING:
    from celery import Task

logger = logging.getLogger(__name__)

TASK_NAME = "events.execute"
"""Name of the task that executes emissions on workers."""

ADDONS_GROUP = "events_celery.addons"
"""Entry-point group of add-ons that `install` plugs in (events-contrib registers here)."""

PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.0,
    "interval_step": 0.5,
    "interval_max": 1.0,
}
"""Bounded retry of a publish: after it, `emit` raises `PublishError`."""

_RUNTIME_ATTRIBUTE = "_events_runtime"
_install_lock = threading.RLock()


@dataclass(frozen=True)
class Failure:
    """What a failure policy gets when handlers of an emission failed on a worker."""

    task: Task
    envelope: Envelope
    body: Body
    emission: EventEmission
    report: EmissionReport
    unregistered: tuple[str, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        """Refs of every failed handler, unregistered ones included."""
        return tuple(outcome.handler for outcome in self.report.failed) + self.unregistered


@dataclass(frozen=True)
class Rejection:
    """What a failure policy gets when a message was refused before any handler ran."""

    task: Task
    message: object
    error: EnvelopeError
    queue: str


class FailurePolicy(Protocol):
    """Decides what happens to failed and rejected emissions (events-contrib provides one)."""

    def on_failure(self, failure: Failure) -> str | None:
        """Retry and/or dead-letter; return "retried", "dead_lettered" or None (not taken)."""

    def on_rejection(self, rejection: Rejection) -> bool:
        """Dead-letter a refused message; return whether it was taken."""


Route = Callable[[EventEmission], str]


@dataclass
class EventsRuntime:
    """Everything `install` set up on one app: settings, the task, and plug-in points."""

    app: Celery
    settings: EventsSettings
    task: Any
    route: Route | None = None
    failure_policy: FailurePolicy | None = None
    addons: set[str] = field(default_factory=set)
    _bound_task: Any = None

    def _task(self) -> Any:
        # The registered task itself, once the app is finalized, rather than the lazy proxy
        # `app.task` returns before that: one attribute lookup less on every publish.
        if self._bound_task is None and self.app.finalized:
            self._bound_task = self.app.tasks[TASK_NAME]
        return self._bound_task if self._bound_task is not None else self.task

    def queue_for(self, emission: EventEmission) -> str:
        """The queue an emission goes to when its emitter names none."""
        if self.route is not None:
            return self.route(emission)
        return self.settings.default_queue

    def seal(self, emission_id: str, event: str, body: Body) -> Envelope:
        """Encode `body` with the configured codec and sign it.

        Raises:
            EncodeError: a payload value the codec cannot carry.
        """
        codec = self.settings.serializer
        envelope = Envelope(id=emission_id, event=event, codec=codec, body=body.encode(codec))
        return envelope.signed_with(self.settings.keyring)

    def send(self, envelope: Envelope, queue: str, countdown: float | None = None) -> None:
        """Publish an envelope to `queue` with a bounded retry.

        Raises:
            PublishError: the broker could not be reached within the bound.
        """
        try:
            self._task().apply_async(
                args=(envelope.to_message(),),
                queue=queue,
                task_id=envelope.id,
                countdown=countdown,
                argsrepr=f"({envelope.event!r}, {envelope.id!r})",
                kwargsrepr="{}",
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
        except Exception as exc:
            raise PublishError(envelope.event, queue, exc) from exc


def runtime_of(app: Celery) -> EventsRuntime:
    """Return the runtime `install` put on `app`, installing with settings if needed."""
    runtime = getattr(app, _RUNTIME_ATTRIBUTE, None)
    if runtime is None:
        runtime = install(app)
    assert isinstance(runtime, EventsRuntime)
    return runtime


def install(
    app: Celery,
    *,
    signing_key: str | bytes | Sequence[str | bytes] | Mapping[str, str | bytes] | None = None,
    serializer: str | None = None,
    default_queue: str | None = None,
) -> EventsRuntime:
    """Bootstrap `app` for events: validate the settings and register `events.execute` once.

    Arguments override the `events_*` settings of `app.conf`; call this after configuring
    the app. Add-ons installed as `events_celery.addons` entry points (events-contrib) are
    plugged in. Calling it again re-reads the settings but registers nothing twice.

    Raises:
        ConfigurationError: a misspelled or mistyped `events_*` setting or argument.
    """
    if not isinstance(app, Celery):
        raise ConfigurationError("app", f"expected a Celery app, got {type(app).__name__}")
    with _install_lock:
        overrides = {
            name: value
            for name, value in (
                ("events_signing_key", signing_key),
                ("events_serializer", serializer),
                ("events_default_queue", default_queue),
            )
            if value is not None
        }
        settings = EventsSettings.from_conf(ChainMap(overrides, app.conf), app.namespace)
        app.conf.update(overrides)
        runtime = getattr(app, _RUNTIME_ATTRIBUTE, None)
        if runtime is None:
            from events_celery.task import register_task

            runtime = EventsRuntime(app=app, settings=settings, task=register_task(app))
            setattr(app, _RUNTIME_ATTRIBUTE, runtime)
        else:
            runtime.settings = settings
        _plug_addons(app, runtime)
        _refuse_unclaimed_settings(runtime)
        return runtime


def _plug_addons(app: Celery, runtime: EventsRuntime) -> None:
    for entry in entry_points(group=ADDONS_GROUP):
        plug: Callable[[Celery], object] = entry.load()
        plug(app)
        runtime.addons.add(entry.name)


def _refuse_unclaimed_settings(runtime: EventsRuntime) -> None:
    if runtime.addons:
        return
    for name in ("routes", "retry", "dead_letter"):
        if getattr(runtime.settings, name) not in (None, False):
            raise ConfigurationError(
                f"events_{name}",
                "this setting is read by events-contrib, which is not installed "
                "(pip install events-contrib)",
            )
