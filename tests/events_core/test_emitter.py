"""`EventEmitter`: the base that resolves handlers, builds emissions and calls `dispatch`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from events_core import (
    AsyncIOEventEmitter,
    CompositeEventEmitter,
    ConfigurationError,
    ConfigurationTypeError,
    EventEmission,
    EventEmitter,
    EventLinker,
    ExecutorEventEmitter,
    InvalidEventError,
)
from events_core.testing import RecordingEventEmitter


@dataclass
class Shipped:
    parcel: str


class SchedulingError(Exception):
    pass


class Recording(EventEmitter):
    """Keeps what `dispatch` was given."""

    def __init__(self, *, linker: type[EventLinker] = EventLinker) -> None:
        super().__init__(linker=linker)
        self.processed: list[EventEmission] = []

    def dispatch(self, emission: EventEmission) -> None:
        self.processed.append(emission)


class Failing(EventEmitter):
    """A backend that can never schedule anything."""

    def dispatch(self, emission: EventEmission) -> None:
        raise SchedulingError("broker down")


class WorkerResolved(Recording):
    """A backend that resolves handlers later, where the emission runs."""

    def __init__(self, *, linker: type[EventLinker] = EventLinker) -> None:
        super().__init__(linker=linker)
        self.resolves_handlers = False


def test_emit_returns_none_when_no_handler_is_subscribed(linker: type[EventLinker]) -> None:
    emitter = Recording(linker=linker)

    assert emitter.emit("A") is None
    assert emitter.emit(Shipped("p1")) is None
    assert emitter.processed == []


def test_emit_hands_the_emission_to_dispatch_and_returns_it(linker: type[EventLinker]) -> None:
    handler = linker.subscribe("A", event_callback=lambda *a, **k: None)
    emitter = Recording(linker=linker)

    emission = emitter.emit("A", 1, 2, key="value")

    assert isinstance(emission, EventEmission)
    assert emitter.processed == [emission]
    assert emission.event == "A"
    assert emission.args == (1, 2)
    assert dict(emission.kwargs) == {"key": "value"}
    assert emission.handlers == (handler,)
    assert emission.attempt == 1
    assert emission.kind == "name"


def test_emit_of_a_class_event_puts_the_instance_first(linker: type[EventLinker]) -> None:
    handler = linker.subscribe(Shipped, event_callback=lambda *a, **k: None)
    event = Shipped("p1")

    emission = Recording(linker=linker).emit(event, "extra", key="value")

    assert emission is not None
    assert emission.event == "tests.events_core.test_emitter:Shipped"
    assert emission.kind == "class"
    assert emission.args == (event, "extra")
    assert dict(emission.kwargs) == {"key": "value"}
    assert emission.handlers == (handler,)


def test_emit_takes_the_event_positionally_only(linker: type[EventLinker]) -> None:
    linker.subscribe("A", event_callback=lambda **kwargs: None)

    emission = Recording(linker=linker).emit("A", event="payload")

    assert emission is not None
    assert dict(emission.kwargs) == {"event": "payload"}


def test_emit_resolves_the_current_handlers_each_time(linker: type[EventLinker]) -> None:
    emitter = Recording(linker=linker)
    first = linker.subscribe("A", event_callback=lambda: None)
    assert emitter.emit("A").handlers == (first,)  # type: ignore[union-attr]

    second = linker.subscribe(..., event_callback=lambda: None)
    assert emitter.emit("A").handlers == (first, second)  # type: ignore[union-attr]

    linker.unsubscribe("A", event_handler=first)
    assert emitter.emit("A").handlers == (second,)  # type: ignore[union-attr]


def test_emit_rejects_something_that_is_not_an_event(linker: type[EventLinker]) -> None:
    linker.subscribe(..., event_callback=lambda *a: None)
    emitter = Recording(linker=linker)

    for given in (None, "", Shipped, 3):
        with pytest.raises(InvalidEventError):
            emitter.emit(given)
    assert emitter.processed == []


def test_an_emitter_that_does_not_resolve_handlers_always_dispatches(
    linker: type[EventLinker],
) -> None:
    linker.subscribe("A", event_callback=lambda: None)
    emitter = WorkerResolved(linker=linker)

    unhandled = emitter.emit("nobody listens")
    handled = emitter.emit("A")
    event = Shipped("p1")
    by_class = emitter.emit(event)

    assert unhandled is not None
    assert handled is not None
    assert by_class is not None
    assert emitter.processed == [unhandled, handled, by_class]
    assert handled.handlers == ()
    assert by_class.args == (event,)
    assert by_class.kind == "class"
    assert linker.get_event_handlers("A") != []


def test_the_exception_of_dispatch_propagates_from_emit(linker: type[EventLinker]) -> None:
    linker.subscribe("A", event_callback=lambda: None)

    with pytest.raises(SchedulingError, match="broker down"):
        Failing(linker=linker).emit("A")


# once --------------------------------------------------------------------------------------------


def test_once_handlers_are_removed_when_the_emission_is_scheduled(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    once = linker.subscribe("A", ..., event_callback=lambda: calls.append("once"), once=True)
    keep = linker.subscribe("A", event_callback=lambda: calls.append("keep"))
    emitter = Recording(linker=linker)

    emission = emitter.emit("A")

    assert emission is not None
    assert emission.handlers == (once, keep)
    assert calls == []  # nothing ran yet: only scheduled
    assert linker.get_event_handlers("A") == [keep]
    assert linker.get_event_handlers(...) == []
    second = emitter.emit("A")
    assert second is not None
    assert second.handlers == (keep,)


def test_once_handlers_are_put_back_when_dispatch_raises(linker: type[EventLinker]) -> None:
    calls: list[str] = []
    before = linker.subscribe("A", event_callback=lambda: calls.append("before"))
    once = linker.subscribe("A", "B", event_callback=lambda: calls.append("once"), once=True)
    after = linker.subscribe("A", event_callback=lambda: calls.append("after"))

    with pytest.raises(SchedulingError):
        Failing(linker=linker).emit("A")

    assert linker.get_event_handlers("A") == [before, once, after]
    assert linker.get_event_handlers("B") == [once]
    AsyncIOEventEmitter(linker=linker).emit("A")
    assert calls == ["before", "once", "after"]
    assert linker.get_event_handlers("A") == [before, after]
    assert linker.get_event_handlers("B") == []


def test_a_once_handler_put_back_after_a_failure_runs_on_the_next_emit(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    linker.once(Shipped)(lambda event: calls.append(event.parcel))

    with pytest.raises(SchedulingError):
        Failing(linker=linker).emit(Shipped("first"))
    with pytest.raises(SchedulingError):
        Failing(linker=linker).emit(Shipped("second"))
    AsyncIOEventEmitter(linker=linker).emit(Shipped("third"))
    AsyncIOEventEmitter(linker=linker).emit(Shipped("fourth"))

    assert calls == ["third"]


def test_once_handlers_are_put_back_when_an_executor_refuses_the_emission(
    linker: type[EventLinker],
) -> None:
    once = linker.subscribe("A", event_callback=lambda: None, once=True)
    emitter = ExecutorEventEmitter(max_workers=1, linker=linker)
    emitter.shutdown()

    with pytest.raises(RuntimeError):
        emitter.emit("A")

    assert linker.get_event_handlers("A") == [once]


# the linker --------------------------------------------------------------------------------------


def test_the_default_linker_is_event_linker() -> None:
    assert Recording().linker is EventLinker
    assert AsyncIOEventEmitter().linker is EventLinker
    assert RecordingEventEmitter().linker is EventLinker


@pytest.mark.parametrize(
    "emitter_class",
    [Recording, AsyncIOEventEmitter, RecordingEventEmitter, CompositeEventEmitter],
)
@pytest.mark.parametrize("given", [object, None, "EventLinker", int])
def test_the_linker_must_be_an_event_linker_subclass(
    emitter_class: type[EventEmitter], given: object
) -> None:
    with pytest.raises(ConfigurationTypeError, match="linker: must be EventLinker or a subclass"):
        emitter_class(linker=given)  # type: ignore[arg-type]


def test_the_linker_of_an_emitter_is_read_only(linker: type[EventLinker]) -> None:
    emitter = Recording(linker=linker)

    assert emitter.linker is linker
    with pytest.raises(AttributeError):
        emitter.linker = EventLinker  # type: ignore[misc]


def test_an_instance_of_a_linker_is_not_a_linker(linker: type[EventLinker]) -> None:
    with pytest.raises(TypeError, match="linker: must be EventLinker or a subclass"):
        Recording(linker=linker())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="linker: must be EventLinker or a subclass"):
        ExecutorEventEmitter(linker=linker())  # type: ignore[arg-type]


def test_the_linker_is_keyword_only(linker: type[EventLinker]) -> None:
    with pytest.raises(TypeError):
        Recording(linker)  # type: ignore[misc]
    with pytest.raises(TypeError):
        AsyncIOEventEmitter(linker)  # type: ignore[misc]


def test_emitters_on_different_linkers_see_different_handlers() -> None:
    class Billing(EventLinker):
        pass

    class Shipping(EventLinker):
        pass

    billing = Billing.subscribe("A", event_callback=lambda: None)

    assert Recording(linker=Billing).emit("A").handlers == (billing,)  # type: ignore[union-attr]
    assert Recording(linker=Shipping).emit("A") is None


def test_the_base_emitter_is_abstract() -> None:
    with pytest.raises(TypeError):
        EventEmitter()  # type: ignore[abstract]
