"""Errors raised by events-core; the root of every events package's errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class EventsError(Exception):
    """Base class for errors raised by the events packages."""


class ConfigurationError(EventsError, ValueError):
    """Raised when a setting or an argument is misspelled, mistyped or out of range.

    `setting` names it and `problem` says what is wrong; events-celery and events-contrib
    raise it for their `events_*` settings too.
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class ConfigurationTypeError(ConfigurationError, TypeError):
    """Raised when a setting or an argument is of the wrong type; also a `TypeError`."""


class UnknownFieldError(EventsError, TypeError):
    """Raised when `EventEmission.replace` is given a field that emissions do not have."""

    def __init__(self, unknown: Iterable[str], known: Iterable[str]) -> None:
        self.unknown = tuple(sorted(unknown))
        super().__init__(
            f"EventEmission has no field(s) {', '.join(self.unknown)}; "
            f"its fields are {', '.join(known)}"
        )


class InvalidEventError(EventsError, TypeError):
    """Raised when something that is not an event is emitted or subscribed to."""

    def __init__(self, given: object, *, subscribing: bool = False) -> None:
        what = "subscribe to" if subscribing else "emit"
        accepted = (
            "a non-empty string, a dataclass or Exception subclass, or ... (every event)"
            if subscribing
            else "a non-empty string, a dataclass instance or an Exception instance"
        )
        super().__init__(f"cannot {what} {_describe(given)}: an event is {accepted}")
        self.given = given


class InvalidHandlerError(EventsError, TypeError):
    """Raised when a handler or one of its callbacks is not callable."""

    def __init__(self, role: str, given: object) -> None:
        super().__init__(f"{role} must be callable, got {_describe(given)}")
        self.role = role
        self.given = given


class CallbackReturnedAwaitableError(EventsError, TypeError):
    """Raised, as a handler's failure, when a sync callback returns an awaitable.

    The awaitable is closed unawaited. Only callbacks known to be async when subscribed (an
    `async def` function, an object with an `async def __call__`, or a partial of either)
    are awaited, wherever the emission runs.
    """

    def __init__(self, role: str, ref: str) -> None:
        super().__init__(
            f"{role} {ref} is not async but returned an awaitable, which was closed unawaited; "
            f"make it `async def` (or give it an `async def __call__`) to have it awaited"
        )
        self.role = role
        self.ref = ref

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.role, self.ref))


class MaxHandlersExceededError(EventsError):
    """Raised when subscribing would exceed a linker's `max_event_handlers` for one event."""

    def __init__(self, linker: str, event: str, maximum: int) -> None:
        super().__init__(
            f"{linker} allows at most {maximum} handlers for event {event!r}; "
            f"raise max_event_handlers on the linker class or use another linker"
        )
        self.linker = linker
        self.event = event
        self.maximum = maximum


class HandlerNotImportableError(EventsError, ValueError):
    """Raised when a remote emitter is given a handler that cannot be imported by path."""

    def __init__(self, ref: str) -> None:
        super().__init__(
            f"handler {ref!r} cannot be imported by a worker (lambda, closure, or defined in "
            f"__main__); define it at the top level of an importable module"
        )
        self.ref = ref


class EmitError(EventsError):
    """Raised by `CompositeEventEmitter` when one or more of its emitters failed."""

    def __init__(self, errors: Sequence[BaseException]) -> None:
        names = ", ".join(type(error).__name__ for error in errors)
        super().__init__(f"{len(errors)} emitter(s) failed: {names}")
        self.errors = tuple(errors)


def _describe(value: object) -> str:
    if isinstance(value, type):
        return f"the class {value.__module__}.{value.__qualname__}"
    if isinstance(value, str):
        return "an empty string" if not value else f"the string {value!r}"
    return f"{value!r} of type {type(value).__name__}"
