"""`EventEmitter`: the base every backend subclasses by implementing `dispatch`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from events_core.emission import EventEmission, EventKind
from events_core.errors import ConfigurationTypeError, InvalidEventError
from events_core.events import class_path, is_event_class
from events_core.registry import EventLinker
from events_core.report import EmissionReport

logger = logging.getLogger(__name__)


class EventEmitter(ABC):
    """Resolves handlers from a linker, builds the emission and hands it to `dispatch`.

    Subclasses decide where and when handlers run by implementing `dispatch(emission)`.
    `once` handlers are removed when an emission is scheduled and put back if `dispatch`
    raises, so a failed emit can be retried.

    Args:
        linker: the registry to resolve handlers from (default `EventLinker`).

    Raises:
        ConfigurationTypeError: `linker` is not `EventLinker` or a subclass of it.
    """

    def __init__(self, *, linker: type[EventLinker] = EventLinker) -> None:
        if not (isinstance(linker, type) and issubclass(linker, EventLinker)):
            raise ConfigurationTypeError(
                "linker", f"must be EventLinker or a subclass of it, got {linker!r}"
            )
        self._linker = linker
        self._resolutions = linker.resolutions()
        self.resolves_handlers = True
        """Whether `emit` resolves handlers itself (False: the backend resolves them later)."""

    @property
    def linker(self) -> type[EventLinker]:
        """The registry this emitter resolves handlers from."""
        return self._linker

    def emit(self, event: Any, /, *args: Any, **kwargs: Any) -> EventEmission | None:
        """Emit `event` with `args` and `kwargs` for its handlers.

        Returns:
            The scheduled emission, or None when no handler is subscribed (and this
            emitter resolves handlers itself).

        Raises:
            InvalidEventError: `event` is not a non-empty string, dataclass instance or
                exception instance.
        """
        kind: EventKind
        # events.event_name() inlined: this is the hot path of every emitter.
        if type(event) is str and event:
            name: str = event
            key: Any = event
            kind = "name"
        elif not isinstance(event, type) and is_event_class(type(event)):
            key = type(event)
            name = class_path(key)
            args = (event, *args)
            kind = "class"
        elif isinstance(event, str) and event:
            name = key = str(event)
            kind = "name"
        else:
            raise InvalidEventError(event)
        if not self.resolves_handlers:
            emission = EventEmission.emitted(name, args, kwargs, (), kind, True)
            self.dispatch(emission)
            return emission
        resolution = self._resolutions.get(key)
        if resolution is None:
            resolution = self._linker.lend(key)
        handlers, inline, lent = resolution
        if not handlers:
            return None
        emission = EventEmission.emitted(name, args, kwargs, handlers, kind, inline)
        if not lent:
            self.dispatch(emission)
            return emission
        try:
            self.dispatch(emission)
        except BaseException:
            self._linker.give_back(lent)
            raise
        return emission

    @abstractmethod
    def dispatch(self, emission: EventEmission) -> None:
        """Schedule or run `emission`: the one method a backend implements.

        `emit` calls it with every emission it builds. Raising means the emission was not
        scheduled: `emit` then gives back the `once` handlers it took and re-raises.
        `CompositeEventEmitter` calls it on each of its emitters with the same emission.
        """


def log_failures(report: EmissionReport) -> None:
    """Log each failed handler of a report (ids and types only, never payloads)."""
    for outcome in report.failed:
        logger.error(
            "handler %s failed for event %s (emission %s): %s",
            outcome.handler,
            report.event,
            report.emission_id,
            type(outcome.exception).__name__,
        )
