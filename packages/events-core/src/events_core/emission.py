"""`EventEmission`: one event, its payload and the handlers it goes to."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime, timezone
from os import urandom
from types import MappingProxyType
from typing import Any, Final, Literal

from events_core.errors import UnknownFieldError
from events_core.handler import EventHandler
from events_core.report import EmissionReport, HandlerOutcome

logger = logging.getLogger(__name__)

EventKind = Literal["name", "class"]
"""How an emission's event was given: a string name, or an instance (then `args[0]`)."""

# Slots of `EventEmission._state`, a tuple so that building an emission stays cheap.
_EVENT: Final = 0
_ARGS: Final = 1
_KWARGS: Final = 2
_HANDLERS: Final = 3
_CREATED: Final = 4
_ATTEMPT: Final = 5
_HEADERS: Final = 6
_KIND: Final = 7
_INLINE: Final = 8

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_UUID4_MASK = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)
_id_lock = threading.Lock()
_current: ContextVar[EventEmission | None] = ContextVar("events_current_emission", default=None)


_set_current = _current.set
_reset_current = _current.reset


def current_emission() -> EventEmission | None:
    """The emission whose handlers are running, from inside a handler (else None).

    `current_emission().id` plus the handler's ref is the idempotency key of a handler run:
    the same emission can be delivered more than once.
    """
    return _current.get()


def new_emission_id() -> str:
    """Return a new random uuid4 as 32 hex digits."""
    return "%032x" % ((int.from_bytes(urandom(16), "big") & _UUID4_MASK) | _UUID4_BITS)


class EventEmission:
    """An immutable emission of one event to the handlers resolved for it.

    A class event (a dataclass or exception instance) is passed to handlers as the first
    positional argument, so `args[0]` is the instance and `kind` is `"class"`.

    Attributes:
        id: uuid4 hex, stable across retries and redeliveries.
        event: the wire name (`"OrderPlaced"` or `module:QualName`).
        args: positional arguments given to every handler.
        kwargs: keyword arguments given to every handler (read-only).
        handlers: the handlers resolved when the event was emitted.
        timestamp: when the event was emitted (aware UTC).
        attempt: 1 for the first delivery, then one more per retry.
        headers: str-to-str metadata such as correlation ids (read-only).
        kind: `"name"` for string events, `"class"` for instances.
    """

    __slots__ = ("_id", "_state")

    _id: str

    _state: tuple[
        str,
        tuple[Any, ...],
        Mapping[str, Any],
        tuple[EventHandler, ...],
        float,
        int,
        Mapping[str, str],
        EventKind,
        bool,
    ]

    def __init__(
        self,
        event: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        handlers: tuple[EventHandler, ...] = (),
        *,
        id: str | None = None,
        timestamp: datetime | float | None = None,
        attempt: int = 1,
        headers: Mapping[str, str] | None = None,
        kind: EventKind = "name",
    ) -> None:
        if timestamp is None:
            created = time.time()
        elif isinstance(timestamp, datetime):
            created = timestamp.timestamp()
        else:
            created = float(timestamp)
        handlers = tuple(handlers)
        state = (
            event,
            tuple(args),
            MappingProxyType(dict(kwargs)) if kwargs else _EMPTY,
            handlers,
            created,
            attempt,
            MappingProxyType(dict(headers)) if headers else _EMPTY,
            kind,
            all(handler.runs_inline for handler in handlers),
        )
        _set_state(self, state)
        if id is not None:
            _set_id(self, id)

    @classmethod
    def emitted(
        cls,
        event: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        handlers: tuple[EventHandler, ...],
        kind: EventKind,
        inline: bool,
    ) -> EventEmission:
        """Build a first delivery from parts `emit` has already checked (its hot path).

        Args:
            event: the wire name.
            args: positional arguments, the event instance first for a class event.
            kwargs: keyword arguments; kept, not copied, so pass a dict no one else holds.
            handlers: the handlers resolved, in subscription order.
            kind: `"name"` or `"class"`.
            inline: whether every handler `runs_inline`.
        """
        self = _new(cls)
        _set_state(
            self,
            (
                event,
                args,
                MappingProxyType(kwargs) if kwargs else _EMPTY,
                handlers,
                _now(),
                1,
                _EMPTY,
                kind,
                inline,
            ),
        )
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"EventEmission is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"EventEmission is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        state = self._state
        return (
            _rebuild,
            (
                self.id,
                state[_EVENT],
                state[_ARGS],
                dict(state[_KWARGS]),
                state[_HANDLERS],
                state[_CREATED],
                state[_ATTEMPT],
                dict(state[_HEADERS]),
                state[_KIND],
            ),
        )

    @property
    def id(self) -> str:
        """The emission's id: uuid4 hex, made when first read."""
        try:
            return self._id
        except AttributeError:
            candidate = new_emission_id()
            with _id_lock:
                if getattr(self, "_id", None) is None:
                    _set_id(self, candidate)
            return self._id

    @property
    def event(self) -> str:
        """The event's wire name."""
        return self._state[_EVENT]

    @property
    def args(self) -> tuple[Any, ...]:
        """Positional arguments for every handler (the event instance first, for class events)."""
        return self._state[_ARGS]

    @property
    def kwargs(self) -> Mapping[str, Any]:
        """Keyword arguments for every handler."""
        return self._state[_KWARGS]

    @property
    def handlers(self) -> tuple[EventHandler, ...]:
        """The handlers this emission runs, in subscription order."""
        return self._state[_HANDLERS]

    @property
    def timestamp(self) -> datetime:
        """When the event was emitted, as an aware UTC datetime."""
        return datetime.fromtimestamp(self._state[_CREATED], timezone.utc)

    @property
    def created(self) -> float:
        """When the event was emitted, in seconds since the epoch (`timestamp` as a float)."""
        return self._state[_CREATED]

    @property
    def attempt(self) -> int:
        """1 for the first delivery, then one more per retry."""
        return self._state[_ATTEMPT]

    @property
    def headers(self) -> Mapping[str, str]:
        """Str-to-str metadata carried with the emission."""
        return self._state[_HEADERS]

    @property
    def kind(self) -> EventKind:
        """`"name"` for a string event, `"class"` for an instance passed as `args[0]`."""
        return self._state[_KIND]

    def replace(self, **changes: Any) -> EventEmission:
        """Return a copy with some fields changed (for example `attempt` or `handlers`).

        Raises:
            UnknownFieldError: a change names a field emissions do not have.
        """
        fields: dict[str, Any] = {
            "id": self.id,
            "event": self.event,
            "args": self.args,
            "kwargs": self.kwargs,
            "handlers": self.handlers,
            "timestamp": self.created,
            "attempt": self.attempt,
            "headers": self.headers,
            "kind": self.kind,
        }
        unknown = set(changes) - set(fields)
        if unknown:
            raise UnknownFieldError(unknown, fields)
        fields.update(changes)
        return EventEmission(**fields)

    def __repr__(self) -> str:
        return (
            f"EventEmission(id={self.id!r}, event={self.event!r}, "
            f"handlers={len(self.handlers)}, attempt={self.attempt})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventEmission):
            return NotImplemented
        if self.id != other.id:
            return False
        mine, theirs = self._state, other._state
        # Handlers compare by what they run, so an unpickled copy equals its original.
        return (
            mine[:_HANDLERS] == theirs[:_HANDLERS]
            and mine[_HANDLERS + 1 :] == theirs[_HANDLERS + 1 :]
            and len(mine[_HANDLERS]) == len(theirs[_HANDLERS])
            and all(
                handler.is_equivalent(other_handler)
                for handler, other_handler in zip(mine[_HANDLERS], theirs[_HANDLERS], strict=True)
            )
        )

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def runs_inline(self) -> bool:
        """Whether every handler can run without an event loop."""
        return self._state[_INLINE]

    def run_quietly(self) -> bool:
        """Run every handler inline without building a report; return whether all succeeded.

        Only for emissions that `runs_inline`; failures reach each handler's failure
        callback and the log.
        """
        state = self._state
        args, kwargs = state[_ARGS], state[_KWARGS]
        ok = True
        token = _set_current(self)
        try:
            for handler in state[_HANDLERS]:
                succeeded, value = handler.run_inline(args, kwargs)
                if succeeded:
                    continue
                ok = False
                logger.error("handler %s failed: %s", handler.ref, type(value).__name__)
        finally:
            _reset_current(token)
        return ok

    def run(self) -> EmissionReport:
        """Run every handler and return their outcomes; handler errors never propagate.

        Sync handlers run inline in subscription order. If any handler is async (or
        `force_async`), the whole emission runs through `arun` in a new event loop, so
        this must not be called from a running loop in that case.
        """
        state = self._state
        if not state[_INLINE]:
            return asyncio.run(self.arun())
        args, kwargs = state[_ARGS], state[_KWARGS]
        token = _set_current(self)
        try:
            outcomes = tuple([handler.run_sync(args, kwargs) for handler in state[_HANDLERS]])
        finally:
            _reset_current(token)
        return EmissionReport(self.id, state[_EVENT], outcomes)

    async def arun(self) -> EmissionReport:
        """Run every handler in the running loop and return their outcomes.

        Sync handlers run inline in subscription order; async handlers (and `force_async`
        ones, in threads) run concurrently. Outcomes keep subscription order.
        """
        state = self._state
        outcomes: list[HandlerOutcome | None] = []
        pending: list[tuple[int, asyncio.Task[HandlerOutcome]]] = []
        token = _set_current(self)
        try:
            self._start(state[_HANDLERS], state[_ARGS], state[_KWARGS], outcomes, pending)
        finally:
            _reset_current(token)
        if pending:
            results = await asyncio.gather(*(task for _, task in pending))
            for (index, _), outcome in zip(pending, results, strict=True):
                outcomes[index] = outcome
        return EmissionReport(
            self.id, state[_EVENT], tuple(outcome for outcome in outcomes if outcome is not None)
        )

    @staticmethod
    def _start(
        handlers: tuple[EventHandler, ...],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        outcomes: list[HandlerOutcome | None],
        pending: list[tuple[int, asyncio.Task[HandlerOutcome]]],
    ) -> None:
        """Run inline handlers now and start the others as tasks (which copy the context)."""
        for handler in handlers:
            if handler.runs_inline:
                outcomes.append(handler.run_sync(args, kwargs))
            else:
                pending.append(
                    (len(outcomes), asyncio.ensure_future(handler.run_async(args, kwargs)))
                )
                outcomes.append(None)


_new = object.__new__
_now = time.time
# Slot descriptors set the fields of an otherwise immutable emission.
_set_state = EventEmission.__dict__["_state"].__set__
_set_id = EventEmission.__dict__["_id"].__set__


def _rebuild(
    id: str,
    event: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    handlers: tuple[EventHandler, ...],
    created: float,
    attempt: int,
    headers: dict[str, str],
    kind: EventKind,
) -> EventEmission:
    return EventEmission(
        event,
        args,
        kwargs,
        handlers,
        id=id,
        timestamp=created,
        attempt=attempt,
        headers=headers,
        kind=kind,
    )
