"""The add-on contract: what an add-on declares, and the points of the path it hooks.

An add-on (retries, routing and dead letters from events-contrib, tracing, metrics) is an
`Addon` subclass that overrides only the hooks it needs, as dramatiq's middleware does. An
app's add-ons form an ordered list; each hook is called on every add-on in that order:

```
emit -> before_publish -> (broker) -> after_publish
           (worker) -> before_run -> handlers -> after_run -> on_failure -> after_failure
                   \\-> on_rejection -> after_rejection
```

`on_failure` and `on_rejection` stop at the first add-on that takes the message; the `after_*`
notifications reach every add-on that hooks them, whatever was decided (metrics, tracing).

```python
class Audit(Addon):
    name = "audit"
    options = (Option("events_audit_log", None, "Where audit lines go.", str),)

    def setup(self, runtime: EventsRuntime) -> None:
        self.path = runtime.settings.value("events_audit_log")

    def after_run(self, delivery: Delivery, report: EmissionReport) -> None: ...
```

Add-ons are found through the `events_celery.addons` entry-point group (each entry loads to
a class or factory called with no arguments) and can be given to `install(app, addons=...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from events_celery.body import Body
from events_celery.envelope import Envelope
from events_celery.errors import EnvelopeError
from events_celery.reasons import Reason
from events_celery.settings import Option
from events_core.emission import EventEmission
from events_core.report import EmissionReport

if TYPE_CHECKING:
    from celery import Task

    from events_celery.runtime import EventsRuntime

__all__ = [
    "Addon",
    "AddonChain",
    "Delivery",
    "Failure",
    "Option",
    "Outcome",
    "Outgoing",
    "Reason",
    "Rejection",
]

MAX_RAW_BYTES = 64 * 1024
"""Most bytes of a refused message's body that a `Rejection` keeps."""

ADDONS_GROUP = "events_celery.addons"
"""Entry-point group where add-ons register, so that `install` finds them."""


class Outcome(str, Enum):
    """What an add-on's `on_failure` did with a failed emission."""

    RETRIED = "retried"
    """Some failed handlers were published again; the task ends RETRY."""
    DEAD_LETTERED = "dead_lettered"
    """Every failed handler was dead-lettered; the task ends REJECTED."""
    REQUEUED = "requeued"
    """The failure path could not publish; the message is requeued whole (never returned by
    `on_failure`, only told to `after_failure`)."""

    __str__ = str.__str__


@dataclass
class Outgoing:
    """An emission about to be published, as `before_publish` sees it.

    Attributes:
        emission: the emission being published.
        queue: the destination; None until the emitter or an add-on picks one (then
            `events_default_queue` applies).
        fixed: the emitter was given `queue=`, which routes must not change.
        meta: extra bookkeeping for the body's `meta` (signed with the rest of it).
        notes: add-ons' own state from `before_publish` to `after_publish`; never sent.
    """

    emission: EventEmission
    queue: str | None = None
    fixed: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One verified, decoded message on a worker, about to run or just run."""

    task: Task
    envelope: Envelope
    body: Body
    emission: EventEmission
    unregistered: tuple[str, ...] = ()
    """Handler refs the message names that this worker has not registered."""


@dataclass(frozen=True)
class Failure:
    """A delivery some of whose handlers failed, as `on_failure` sees it.

    Attributes:
        fates: what the deciding add-on did with each failed handler ref (its `on_failure`
            fills it); a ref missing here shares the returned `Outcome`, or failed for good
            when none was returned.
    """

    task: Task
    envelope: Envelope
    body: Body
    emission: EventEmission
    report: EmissionReport
    unregistered: tuple[str, ...]
    fates: dict[str, Outcome] = field(default_factory=dict)

    @property
    def failed(self) -> tuple[str, ...]:
        """Refs of every failed handler, unregistered ones included."""
        return tuple(outcome.handler for outcome in self.report.failed) + self.unregistered


@dataclass(frozen=True)
class Rejection:
    """A message refused before any handler ran, as `on_rejection` sees it.

    A message the worker's main process refuses (before the pool) has no task request:
    `delivery_id` then names it, and `raw` keeps its bytes (capped) when it could not be
    read as an envelope.
    """

    task: Task
    message: object
    error: EnvelopeError
    queue: str
    raw: bytes | None = None
    """The message body as received, at most `MAX_RAW_BYTES`; None when `message` is it."""
    delivery_id: str = ""
    """The broker message's task id, when the refusal came before any task request."""
    deliveries: int = 1
    """How many times the message was delivered, this time included."""

    @property
    def reason(self) -> Reason:
        """Why the message was refused."""
        return self.error.reason

    @property
    def id(self) -> str:
        """The refused message's task id, for the log ("" when it had none)."""
        return self.delivery_id or str(getattr(self.task.request, "id", None) or "")


class Addon:
    """Base class of add-ons: every hook does nothing, so override only those you need.

    Attributes:
        name: unique among an app's add-ons (default: the class's name).
        options: the `events_*` settings this add-on reads; `install` validates them and
            refuses any `events_*` setting that no add-on declared.
        enabled: whether its hooks are called; an add-on its settings leave off sets it
            False in `setup`.
    """

    name: ClassVar[str] = ""
    options: ClassVar[Sequence[Option]] = ()
    enabled: bool = True
    """False (set by `setup`) leaves the add-on out of every hook: it costs nothing."""

    def setup(self, runtime: EventsRuntime) -> None:
        """Read validated settings from `runtime.settings`; called by every `install`.

        Raises:
            ConfigurationError: a setting that does not fit with the others.
        """

    def destinations(self) -> frozenset[str]:
        """Queues this add-on sends emissions to, beside `events_default_queue`."""
        return frozenset()

    def before_publish(self, outgoing: Outgoing) -> None:
        """Change where or with what bookkeeping an emission is published."""

    def after_publish(
        self, outgoing: Outgoing, seconds: float, error: BaseException | None
    ) -> None:
        """Called once an emission was sealed and published (`error` None) or not."""

    def before_run(self, delivery: Delivery) -> None:
        """Called on the worker before an emission's handlers run."""

    def after_run(self, delivery: Delivery, report: EmissionReport) -> None:
        """Called on the worker after an emission's handlers ran, failed or not."""

    def on_failure(self, failure: Failure) -> Outcome | None:
        """Retry or dead-letter failed handlers; None leaves it to the next add-on.

        Raises:
            PublishError: a retry or dead letter could not be published; the message is
                then requeued whole.
        """
        return None

    def after_failure(self, failure: Failure, outcome: Outcome | None) -> None:
        """Told what became of a failure: its `Outcome`, or None when it ends in FAILURE."""

    def on_rejection(self, rejection: Rejection) -> bool:
        """Take a refused message (dead-letter it); False leaves it to the next add-on.

        Raises:
            PublishError: the message could not be dead-lettered; it is then requeued.
        """
        return False

    def after_rejection(self, rejection: Rejection, taken: bool) -> None:
        """Told that a message was refused, and whether an add-on took it."""


def addon_name(addon: Addon) -> str:
    """An add-on's name: its `name`, else its class's name."""
    return addon.name or type(addon).__name__


class AddonChain:
    """An app's add-ons in order, and the calls of each hook point on them.

    A hook is called only on the add-ons that override it, so an add-on costs nothing at
    the points it does not hook.
    """

    def __init__(self, addons: Sequence[Addon] = ()) -> None:
        self.addons = tuple(addons)
        self._before_publish = _overriding(self.addons, "before_publish")
        self._after_publish = _overriding(self.addons, "after_publish")
        self._before_run = _overriding(self.addons, "before_run")
        self._after_run = _overriding(self.addons, "after_run")
        self._on_failure = _overriding(self.addons, "on_failure")
        self._on_rejection = _overriding(self.addons, "on_rejection")
        self._after_failure = _overriding(self.addons, "after_failure")
        self._after_rejection = _overriding(self.addons, "after_rejection")

    @property
    def names(self) -> tuple[str, ...]:
        """The add-ons' names, in order."""
        return tuple(addon_name(addon) for addon in self.addons)

    def destinations(self) -> frozenset[str]:
        """Every queue the add-ons send emissions to."""
        return frozenset().union(*(addon.destinations() for addon in self.addons))

    @property
    def publishes_plainly(self) -> bool:
        """Whether no add-on hooks `before_publish` or `after_publish` (the emitter may skip
        them)."""
        return not self._before_publish and not self._after_publish

    def before_publish(self, outgoing: Outgoing) -> None:
        """Call `before_publish` on each add-on that hooks it, in order."""
        for addon in self._before_publish:
            addon.before_publish(outgoing)

    def after_publish(
        self, outgoing: Outgoing, seconds: float, error: BaseException | None = None
    ) -> None:
        """Call `after_publish` on each add-on that hooks it, in order."""
        for addon in self._after_publish:
            addon.after_publish(outgoing, seconds, error)

    def before_run(self, delivery: Delivery) -> None:
        """Call `before_run` on each add-on that hooks it, in order."""
        for addon in self._before_run:
            addon.before_run(delivery)

    def after_run(self, delivery: Delivery, report: EmissionReport) -> None:
        """Call `after_run` on each add-on that hooks it, in order."""
        for addon in self._after_run:
            addon.after_run(delivery, report)

    def on_failure(self, failure: Failure) -> Outcome | None:
        """Ask each add-on in order until one retries or dead-letters the failure."""
        for addon in self._on_failure:
            outcome = addon.on_failure(failure)
            if outcome is not None:
                return outcome
        return None

    def after_failure(self, failure: Failure, outcome: Outcome | None) -> None:
        """Call `after_failure` on each add-on that hooks it, in order."""
        for addon in self._after_failure:
            addon.after_failure(failure, outcome)

    def on_rejection(self, rejection: Rejection) -> bool:
        """Ask each add-on in order until one takes the refused message."""
        return any(addon.on_rejection(rejection) for addon in self._on_rejection)

    def after_rejection(self, rejection: Rejection, taken: bool) -> None:
        """Call `after_rejection` on each add-on that hooks it, in order."""
        for addon in self._after_rejection:
            addon.after_rejection(rejection, taken)


def _overriding(addons: tuple[Addon, ...], hook: str) -> tuple[Addon, ...]:
    base = getattr(Addon, hook)
    return tuple(
        addon for addon in addons if addon.enabled and getattr(type(addon), hook) is not base
    )
