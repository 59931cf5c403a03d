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
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple, TypeVar

from events_core.errors import ConfigurationError, InvalidEventError, MaxHandlersExceededError
from events_core.events import EventKey, class_path, key_name, validate_key
from events_core.handler import EventHandler

F = TypeVar("F", bound=Callable[..., Any])

_sequence = itertools.count(1)
_linkers: dict[str, type[EventLinker]] = {}
_linkers_lock = threading.Lock()


class Resolution(NamedTuple):
    """The handlers resolved for one emission, as `EventLinker.lend` returns them."""

    handlers: tuple[EventHandler, ...]
    """The handlers the emission runs, in subscription order."""
    inline: bool
    """Whether every one of them runs inline, with no event loop."""
    lent: tuple[EventHandler, ...]
    """The `once` handlers taken out for this emission; give them back if it is not scheduled."""


class Selection(NamedTuple):
    """The handlers an emission names, as `EventLinker.handlers_named` picks them."""

    handlers: tuple[EventHandler, ...]
    """The named handlers this linker has, in subscription order."""
    missing_refs: tuple[str, ...]
    """The refs named that match no handler here, each once."""


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

    max_cached_events: ClassVar[int] = 4096
    """The most events whose handlers the linker keeps resolved; the oldest goes first."""

    _registry: ClassVar[dict[EventKey, list[EventHandler]]]
    _lock: ClassVar[threading.RLock]
    _cache: ClassVar[dict[Any, Resolution]]
    """Resolutions of emission keys that have no `once` handler, ready to lend."""
    _lent: ClassVar[dict[str, EventHandler]]
    """`once` handlers lent out for an emission, by ref: `handlers_named` still finds them."""

    def __init_subclass__(cls, max_event_handlers: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if max_event_handlers is not None:
            if not isinstance(max_event_handlers, int) or max_event_handlers < 1:
                raise ConfigurationError(
                    "max_event_handlers", f"must be a positive int, got {max_event_handlers!r}"
                )
            cls.max_event_handlers = max_event_handlers
        cls._setup()

    @classmethod
    def _setup(cls) -> None:
        cls._registry = {}
        cls._lock = threading.RLock()
        cls._cache = {}
        cls._lent = {}
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
            if cls._lent.get(event_handler.ref) is event_handler:
                cls._forget_lent(event_handler, keys)
            if removed:
                cls._cache.clear()
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
            for handler in [lent for lent in cls._lent.values() if key in lent.keys]:
                cls._forget_lent(handler, (key,))
            if removed:
                cls._cache.clear()
        return removed

    @classmethod
    def remove_all(cls) -> None:
        """Remove every handler of every event."""
        with cls._lock:
            cls._registry.clear()
            cls._lent.clear()
            cls._cache.clear()

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
        resolution = cls._cache.get(key)
        if resolution is not None:
            return resolution.handlers
        return cls._resolve(key)[0]

    @classmethod
    def resolutions(cls) -> Mapping[Any, Resolution]:
        """A live, read-only view of the resolutions `lend` gives from its cache.

        It holds the keys resolved since the registry last changed that have no `once`
        handler: a hit is exactly what `lend(key)` returns, and lending it takes nothing.
        An emitter reads it first, on its hot path, and calls `lend` on a miss.
        """
        return MappingProxyType(cls._cache)

    @classmethod
    def lend(cls, key: Any) -> Resolution:
        """Resolve the handlers of one emission of `key`, taking its `once` handlers out.

        `key` is a string event name or an event class (dispatched along its MRO). The
        `once` handlers taken are the resolution's `lent`: give them back with `give_back`
        if the emission is not scheduled. Meanwhile, and once it is, `handlers_named` still
        finds them for an emission that names them.
        """
        resolution = cls._cache.get(key)
        if resolution is not None:
            return resolution
        with cls._lock:
            handlers, once = cls._resolve(key)
            if not once:
                return cls._cache[key]
            for handler in once:
                cls._detach(handler)
                cls._lent[handler.ref] = handler
            cls._cache.clear()
        return Resolution(handlers, all(handler.runs_inline for handler in handlers), once)

    @classmethod
    def give_back(cls, lent: Iterable[EventHandler]) -> None:
        """Put back `once` handlers lent for an emission that could not be scheduled."""
        with cls._lock:
            for handler in lent:
                if cls._lent.get(handler.ref) is handler:
                    del cls._lent[handler.ref]
                for key in handler.keys:
                    handlers = cls._registry.setdefault(key, [])
                    if handler not in handlers:
                        bisect.insort(handlers, handler, key=_by_sequence)
            cls._cache.clear()

    @classmethod
    def handlers_named(cls, event: object, refs: Iterable[str]) -> Selection:
        """Pick the handlers an emission names by ref, for an emission resolved elsewhere.

        Candidates are the handlers an emission of `event` (a string name or an event
        instance) runs now, and the `once` handlers lent out for one, so that an emission
        that took a `once` handler still runs it wherever it is executed. A lent handler is
        found by its ref; of several lent with one ref, the latest.

        Returns:
            The named handlers in subscription order, and the refs named that match none,
            each once, in the order given.
        """
        key: Any = event if type(event) is str else type(event)
        refs = tuple(refs)
        wanted = set(refs)
        with cls._lock:
            found = {id(handler): handler for handler in cls.handlers_for(event)}
            if cls._lent:
                reaches = set(_dispatch_keys(key))
                for ref in wanted:
                    handler = cls._lent.get(ref)
                    if handler is not None and not reaches.isdisjoint(handler.keys):
                        found.setdefault(id(handler), handler)
        ordered = sorted(found.values(), key=_by_sequence)
        selected = tuple(handler for handler in ordered if handler.ref in wanted)
        known = {handler.ref for handler in selected}
        return Selection(selected, tuple(dict.fromkeys(ref for ref in refs if ref not in known)))

    @classmethod
    def _resolve(cls, key: Any) -> tuple[tuple[EventHandler, ...], tuple[EventHandler, ...]]:
        """The handlers of `key` and the `once` ones among them; cached if there are none."""
        with cls._lock:
            found: dict[int, EventHandler] = {}
            for candidate in _dispatch_keys(key):
                for handler in cls._registry.get(candidate, ()):
                    found.setdefault(id(handler), handler)
            handlers = tuple(sorted(found.values(), key=_by_sequence))
            once = tuple(handler for handler in handlers if handler.once)
            if not once:
                inline = all(handler.runs_inline for handler in handlers)
                cache = cls._cache
                if len(cache) >= cls.max_cached_events:
                    # Event names can come from anywhere: keep memory bounded, not every name.
                    del cache[next(iter(cache))]
                cache[key] = Resolution(handlers, inline, ())
            return handlers, once

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
            cls._cache.clear()

    @classmethod
    def _forget_lent(cls, handler: EventHandler, keys: tuple[EventKey, ...]) -> None:
        """Unsubscribe a lent handler from `keys`: it is no longer found for them."""
        handler.keys = tuple(k for k in handler.keys if k not in keys)
        if not handler.keys:
            del cls._lent[handler.ref]

    @classmethod
    def _detach(cls, handler: EventHandler) -> None:
        for key in handler.keys:
            handlers = cls._registry.get(key)
            if handlers and handler in handlers:
                handlers.remove(handler)
                if not handlers:
                    del cls._registry[key]


EventLinker._setup()


def _dispatch_keys(key: Any) -> list[Any]:
    """The subscription keys an emission of `key` (a name or an event class) reaches."""
    if isinstance(key, str):
        return [key, ...]
    return [*(base for base in key.__mro__ if base is not object), ...]


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
