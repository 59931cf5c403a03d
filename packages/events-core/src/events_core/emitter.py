"""`EventEmitter`: the base every backend subclasses by overriding `_process`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from events_core.emission import EventEmission
from events_core.errors import InvalidEventError
from events_core.events import class_path, is_event_class
from events_core.registry import EventLinker
from events_core.report import EmissionReport

logger = logging.getLogger(__name__)


class EventEmitter(ABC):
    """Resolves handlers from a linker, builds the emission and hands it to `_process`.

    Subclasses decide where and when handlers run by overriding `_process(emission)`.
    `once` handlers are removed when an emission is scheduled and put back if `_process`
    raises, so a failed emit can be retried.

    Args:
        linker: the registry to resolve handlers from (default `EventLinker`).
    """

    def __init__(self, *, linker: type[EventLinker] = EventLinker) -> None:
        if not (isinstance(linker, type) and issubclass(linker, EventLinker)):
            raise TypeError(f"linker must be EventLinker or a subclass of it, got {linker!r}")
        self.linker = linker
        self.resolves_handlers = True
        """Whether `emit` resolves handlers itself (False: the backend resolves them later)."""

    def emit(self, event: Any, /, *args: Any, **kwargs: Any) -> EventEmission | None:
        """Emit `event` with `args` and `kwargs` for its handlers.

        Returns:
            The scheduled emission, or None when no handler is subscribed (and this
            emitter resolves handlers itself).

        Raises:
            InvalidEventError: `event` is not a non-empty string, dataclass instance or
                exception instance.
        """
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
            emission = EventEmission._fast(name, args, kwargs, (), kind, True)  # type: ignore[arg-type]
            self._process(emission)
            return emission
        cached = self.linker._cache.get(key)
        if cached is not None and not cached[1]:
            handlers, _, inline = cached
            if not handlers:
                return None
            emission = EventEmission._fast(name, args, kwargs, handlers, kind, inline)  # type: ignore[arg-type]
            self._process(emission)
            return emission
        handlers, inline, taken = self.linker._take(key)
        if not handlers:
            return None
        emission = EventEmission._fast(name, args, kwargs, handlers, kind, inline)  # type: ignore[arg-type]
        if not taken:
            self._process(emission)
            return emission
        try:
            self._process(emission)
        except BaseException:
            self.linker._restore(taken)
            raise
        return emission

    @abstractmethod
    def _process(self, emission: EventEmission) -> None:
        """Schedule or run `emission`; raising means it was not scheduled."""


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
