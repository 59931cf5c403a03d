"""`EventLinker` against a pure-Python model, driven by random sequences of operations.

The model keeps, for each subscription key, the handlers subscribed to it in subscription
order. After every step the linker's `get_events`/`get_event_handlers` must match it, and
every emission must run exactly the handlers the model predicts, in subscription order,
removing `once` handlers (or keeping them when the backend refuses the emission).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from events_core import AsyncIOEventEmitter, EventEmission, EventEmitter, EventHandler, EventLinker


@dataclass
class Base:
    pass


@dataclass
class Child(Base):
    pass


@dataclass
class GrandChild(Child):
    pass


@dataclass
class Other:
    pass


class Failure(Exception):
    pass


class SubFailure(Failure):
    pass


KEYS: list[Any] = ["a", "b", Base, Child, GrandChild, Other, Failure, SubFailure, ...]
EVENTS: list[Any] = ["a", "b", "c", Base, Child, GrandChild, Other, Failure, SubFailure]
"""Events to emit: string names, or classes whose fresh instances are emitted."""


class Refused(Exception):
    pass


class RefusingEmitter(EventEmitter):
    """A backend that never manages to schedule an emission."""

    def dispatch(self, emission: EventEmission) -> None:
        raise Refused


def dispatch_keys(event: Any) -> set[Any]:
    """The subscription keys an emission of `event` reaches, per the design."""
    if isinstance(event, str):
        return {event, ...}
    return {base for base in type(event).__mro__ if base is not object} | {...}


class RegistryModel(RuleBasedStateMachine):
    handlers = Bundle("handlers")

    def __init__(self) -> None:
        super().__init__()
        self.linker: type[EventLinker] = type("ModelLinker", (EventLinker,), {})
        self.model: dict[Any, list[EventHandler]] = {key: [] for key in KEYS}
        self.order: dict[int, int] = {}  # id(handler) -> subscription number
        self.labels: dict[int, str] = {}
        self.calls: list[str] = []
        self.emitter = AsyncIOEventEmitter(linker=self.linker)
        self.refusing = RefusingEmitter(linker=self.linker)

    def teardown(self) -> None:
        self.linker.remove_all()

    # helpers ----------------------------------------------------------------------------------

    def _callback(self) -> Any:
        label = f"h{len(self.labels) + 1}"

        def callback(*args: object, **kwargs: object) -> str:
            self.calls.append(label)
            return label

        callback.__qualname__ = label
        return callback

    def _record(self, handler: EventHandler, keys: list[Any]) -> EventHandler:
        self.order[id(handler)] = len(self.order)
        self.labels[id(handler)] = handler.event_callback.__qualname__
        for key in dict.fromkeys(keys):
            self.model[key].append(handler)
        return handler

    def _expected(self, event: Any) -> list[EventHandler]:
        found: dict[int, EventHandler] = {}
        for key in dispatch_keys(event):
            for handler in self.model.get(key, ()):
                found[id(handler)] = handler
        return sorted(found.values(), key=lambda handler: self.order[id(handler)])

    @staticmethod
    def _make(event: Any) -> Any:
        return event if isinstance(event, str) else event()

    # rules --------------------------------------------------------------------------------------

    @rule(
        target=handlers,
        keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3),
        once=st.booleans(),
    )
    def subscribe(self, keys: list[Any], once: bool) -> EventHandler:
        handler = self.linker.subscribe(*keys, event_callback=self._callback(), once=once)
        assert handler.once is once
        return self._record(handler, keys)

    @rule(
        target=handlers,
        keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3),
        once=st.booleans(),
    )
    def decorate(self, keys: list[Any], once: bool) -> EventHandler:
        callback = self._callback()
        decorator = self.linker.once(*keys) if once else self.linker.on(*keys)
        assert decorator(callback) is callback
        handler = self.linker.get_event_handlers(keys[0])[-1]
        assert handler.event_callback is callback
        assert handler.once is once
        return self._record(handler, keys)

    @rule(
        handler=handlers,
        keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3),
        own=st.booleans(),
    )
    def unsubscribe(self, handler: EventHandler, keys: list[Any], own: bool) -> None:
        if own:  # aim at keys the handler is subscribed to, if it still is
            keys = [key for key in KEYS if handler in self.model[key]][: len(keys)] or keys
        expected = False
        for key in dict.fromkeys(keys):
            if handler in self.model[key]:
                self.model[key].remove(handler)
                expected = True
        assert self.linker.unsubscribe(*keys, event_handler=handler) is expected

    @rule(key=st.sampled_from(KEYS))
    def remove_event(self, key: Any) -> None:
        expected = bool(self.model[key])
        self.model[key] = []
        assert self.linker.remove_event(key) is expected

    @rule()
    def remove_all(self) -> None:
        self.linker.remove_all()
        self.model = {key: [] for key in KEYS}

    @rule(event=st.sampled_from(EVENTS))
    def resolve(self, event: Any) -> None:
        instance = self._make(event)
        assert self.linker.handlers_for(instance) == tuple(self._expected(instance))

    @rule(event=st.sampled_from(EVENTS))
    def emit(self, event: Any) -> None:
        instance = self._make(event)
        expected = self._expected(instance)
        self.calls = []

        emission = self.emitter.emit(instance)

        assert self.calls == [self.labels[id(handler)] for handler in expected]
        if not expected:
            assert emission is None
            return
        assert emission is not None
        assert emission.handlers == tuple(expected)
        for handler in expected:
            if handler.once:
                for handlers in self.model.values():
                    if handler in handlers:
                        handlers.remove(handler)

    @rule(event=st.sampled_from(EVENTS))
    def emit_refused(self, event: Any) -> None:
        instance = self._make(event)
        expected = self._expected(instance)
        self.calls = []

        if not expected:
            assert self.refusing.emit(instance) is None
        else:
            with pytest.raises(Refused):
                self.refusing.emit(instance)

        assert self.calls == []  # nothing ran, and the model is unchanged: once handlers are back

    # invariants ---------------------------------------------------------------------------------

    @invariant()
    def handlers_of_each_event_match(self) -> None:
        for key in KEYS:
            assert self.linker.get_event_handlers(key) == self.model[key], key

    @invariant()
    def events_with_handlers_match(self) -> None:
        events = self.linker.get_events()
        assert len(events) == len(set(events))
        assert set(events) == {key for key, handlers in self.model.items() if handlers}

    @invariant()
    def every_handler_is_listed_once_in_subscription_order(self) -> None:
        present: dict[int, EventHandler] = {}
        for handlers in self.model.values():
            for handler in handlers:
                present[id(handler)] = handler
        expected = sorted(present.values(), key=lambda handler: self.order[id(handler)])
        assert self.linker.get_event_handlers() == expected


RegistryModel.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_registry_behaves_like_its_model = RegistryModel.TestCase
