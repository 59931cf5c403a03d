"""`CompositeEventEmitter`: one emission handed to several backends."""

from __future__ import annotations

from events_core.emission import EventEmission
from events_core.emitter import EventEmitter
from events_core.errors import ConfigurationTypeError, EmitError
from events_core.registry import EventLinker


class CompositeEventEmitter(EventEmitter):
    """Hands each emission to several emitters' backends.

    Handlers are resolved once, from this emitter's linker, and the same emission (same
    id) goes to each emitter in order. One backend's failure does not stop the others;
    the failures are raised together afterwards as `EmitError`, and `once` handlers are
    then put back. `emit` blocks as long as the slowest of its emitters blocks.

    Args:
        *emitters: the emitters whose backends receive every emission.
        linker: the registry to resolve handlers from (default `EventLinker`).
    """

    def __init__(self, *emitters: EventEmitter, linker: type[EventLinker] = EventLinker) -> None:
        super().__init__(linker=linker)
        for emitter in emitters:
            if not isinstance(emitter, EventEmitter):
                raise ConfigurationTypeError(
                    "emitters", f"CompositeEventEmitter takes EventEmitters, got {emitter!r}"
                )
        self.emitters = emitters

    def dispatch(self, emission: EventEmission) -> None:
        """Hand `emission` to each emitter's `dispatch`; raise their failures as `EmitError`."""
        errors: list[BaseException] = []
        for emitter in self.emitters:
            try:
                emitter.dispatch(emission)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise EmitError(errors)
