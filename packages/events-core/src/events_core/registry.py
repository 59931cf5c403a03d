"""`EventLinker`: the class-level registry of event handlers.

```python
from events_core import EventLinker

@EventLinker.on("OrderPlaced")
def send_receipt(order_id: int) -> None: ...

class Billing(EventLinker, max_event_handlers=50):
    pass  # an isolated namespace of handlers
```
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from events_core.errors import InvalidEventError, MaxHandlersExceededError
from events_core.events import EventKey, class_path, key_name, validate_key
from events_core.handler import EventHandler

F = TypeVar("F", bound=Callable[..., Any])

_sequence = itertools.count(1)
_linkers: dict[str, type[EventLinker]] = {}
_linkers_lock = threading.Lock()


def find_linker(path: str) -> type[EventLinker] | None:
    """Return the already imported `EventLinker` (or subclass) whose import path is `path`."""
    return _linkers.get(path)


class EventLinker:
    """A registry of handlers shared by everything that uses the class.

    Each subclass is an isolated namespace with its own handlers:
    `class Billing(EventLinker, max_event_handlers=50): ...`. Every method is a classmethod
    and thread-safe. Handlers of one emission run in subscription order, catch-all (`...`)
    handlers included.
    """

    max_event_handlers: ClassVar[int | None] = None
    """The most handlers one event may have in this linker (None: no limit)."""

    _registry: ClassVar[dict[EventKey, list[EventHandler]]]
    _lock: ClassVar[threading.RLock]
    _cache: ClassVar[dict[Any, tuple[tuple[EventHandler, ...], bool, bool]]]

    def __init_subclass__(cls, max_event_handlers: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if max_event_handlers is not None:
            if not isinstance(max_event_handlers, int) or max_event_handlers < 1:
                raise ValueError(
                    f"max_event_handlers must be a positive int, got {max_event_handlers!r}"
                )
            cls.max_event_handlers = max_event_handlers
        cls._setup()

    @classmethod
    def _setup(cls) -> None:
        cls._registry = {}
        cls._lock = threading.RLock()
        cls._cache = {}
        with _linkers_lock:
            _linkers[class_path(cls)] = cls

    @classmethod
    def path(cls) -> str:
        """The linker's import path (`module:QualName`), as carried in messages."""
        return class_path(cls)

    # registration ---------------------------------------------------------------------

    @classmethod
    def on(cls, *events: object, force_async: bool = False) -> Callable[[F], F]:
        """Decorate a function to handle `events`; the function is returned unchanged."""
        keys = _validate_keys(events)

        def decorator(func: F) -> F:
            cls._add(keys, EventHandler(func, force_async=force_async))
            return func

        return decorator

    @classmethod
    def once(cls, *events: object, force_async: bool = False) -> Callable[[F], F]:
        """Decorate a function to handle one emission of any of `events`, then unsubscribe."""
        keys = _validate_keys(events)

        def decorator(func: F) -> F:
            cls._add(keys, EventHandler(func, once=True, force_async=force_async))
            return func

        return decorator

    @classmethod
    def subscribe(
        cls,
        *events: object,
        event_callback: Callable[..., Any],
        success_callback: Callable[[Any], Any] | None = None,
        failure_callback: Callable[[BaseException], Any] | None = None,
        once: bool = False,
        force_async: bool = False,
    ) -> EventHandler:
        """Subscribe a callback (and optional result callbacks) to `events`; return its handler."""
        keys = _validate_keys(events)
        handler = EventHandler(
            event_callback,
            success_callback,
            failure_callback,
            once=once,
            force_async=force_async,
        )
        cls._add(keys, handler)
        return handler

    @classmethod
    def unsubscribe(cls, *events: object, event_handler: EventHandler) -> bool:
        """Remove `event_handler` from `events`; return whether anything was removed."""
        keys = _validate_keys(events)
        removed = False
        with cls._lock:
            for key in keys:
                handlers = cls._registry.get(key)
                if handlers and event_handler in handlers:
                    handlers.remove(event_handler)
                    if not handlers:
                        del cls._registry[key]
                    event_handler.keys = tuple(k for k in event_handler.keys if k != key)
                    removed = True
            if removed:
                cls._cache = {}
        return removed

    @classmethod
    def remove_event(cls, event: object) -> bool:
        """Remove every handler of `event`; return whether it had any."""
        key = validate_key(event)
        with cls._lock:
            handlers = cls._registry.pop(key, None)
            removed = handlers is not None
            for handler in handlers or ():
                handler.keys = tuple(k for k in handler.keys if k != key)
            if removed:
                cls._cache = {}
        return removed

    @classmethod
    def remove_all(cls) -> None:
        """Remove every handler of every event."""
        with cls._lock:
            cls._registry.clear()
            cls._cache = {}

    # inspection -----------------------------------------------------------------------

    @classmethod
    def get_events(cls) -> list[EventKey]:
        """Return the events (names, classes, `...`) that have handlers."""
        with cls._lock:
            return list(cls._registry)

    @classmethod
    def get_event_handlers(cls, event: object = None) -> list[EventHandler]:
        """Return the handlers of `event`, or every handler (each once) when `event` is None."""
        with cls._lock:
            if event is None:
                seen: dict[int, EventHandler] = {}
                for handlers in cls._registry.values():
                    for handler in handlers:
                        seen.setdefault(id(handler), handler)
                return sorted(seen.values(), key=_by_sequence)
            return list(cls._registry.get(validate_key(event), ()))

    @classmethod
    def subscribed_classes(cls) -> tuple[type, ...]:
        """Return the dataclass and exception classes that have handlers."""
        with cls._lock:
            return tuple(key for key in cls._registry if isinstance(key, type))

    # emission support -----------------------------------------------------------------

    @classmethod
    def handlers_for(cls, event: object) -> tuple[EventHandler, ...]:
        """Return the handlers an emission of `event` runs, in subscription order.

        `event` is a string name or an event instance (dispatched along its class's MRO).
        """
        key: Any = event if type(event) is str else type(event)
        cached = cls._cache.get(key)
        if cached is None:
            cached = cls._resolve(key)
        return cached[0]

    @classmethod
    def _take(cls, key: Any) -> tuple[tuple[EventHandler, ...], bool, tuple[EventHandler, ...]]:
        """Resolve handlers for an emission, removing `once` ones.

        Returns the handlers, whether they all run inline, and the `once` handlers taken.
        """
        cached = cls._cache.get(key)
        if cached is None:
            cached = cls._resolve(key)
        handlers, has_once, inline = cached
        if not has_once:
            return handlers, inline, ()
        with cls._lock:
            handlers, has_once, inline = cls._resolve(key)
            taken = tuple(handler for handler in handlers if handler.once)
            for handler in taken:
                cls._detach(handler)
            cls._cache = {}
        return handlers, inline, taken

    @classmethod
    def _restore(cls, taken: Iterable[EventHandler]) -> None:
        """Put back `once` handlers taken for an emission that could not be scheduled."""
        with cls._lock:
            for handler in taken:
                for key in handler.keys:
                    handlers = cls._registry.setdefault(key, [])
                    if handler not in handlers:
                        bisect.insort(handlers, handler, key=_by_sequence)
            cls._cache = {}

    @classmethod
    def _resolve(cls, key: Any) -> tuple[tuple[EventHandler, ...], bool, bool]:
        with cls._lock:
            if isinstance(key, str):
                keys: list[Any] = [key, ...]
            else:
                keys = [base for base in key.__mro__ if base is not object]
                keys.append(...)
            found: dict[int, EventHandler] = {}
            for candidate in keys:
                for handler in cls._registry.get(candidate, ()):
                    found.setdefault(id(handler), handler)
            handlers = tuple(sorted(found.values(), key=_by_sequence))
            resolved = (
                handlers,
                any(handler.once for handler in handlers),
                all(handler.runs_inline for handler in handlers),
            )
            cls._cache[key] = resolved
            return resolved

    @classmethod
    def _add(cls, keys: tuple[EventKey, ...], handler: EventHandler) -> None:
        with cls._lock:
            maximum = cls.max_event_handlers
            if maximum is not None:
                for key in keys:
                    if len(cls._registry.get(key, ())) >= maximum:
                        raise MaxHandlersExceededError(cls.path(), key_name(key), maximum)
            handler.sequence = next(_sequence)
            handler.keys = keys
            for key in keys:
                cls._registry.setdefault(key, []).append(handler)
            cls._cache = {}

    @classmethod
    def _detach(cls, handler: EventHandler) -> None:
        for key in handler.keys:
            handlers = cls._registry.get(key)
            if handlers and handler in handlers:
                handlers.remove(handler)
                if not handlers:
                    del cls._registry[key]


EventLinker._setup()


def _validate_keys(events: tuple[object, ...]) -> tuple[EventKey, ...]:
    if not events:
        raise InvalidEventError((), subscribing=True)
    keys: list[EventKey] = []
    for event in events:
        key = validate_key(event)
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def _by_sequence(handler: EventHandler) -> int:
    return handler.sequence
