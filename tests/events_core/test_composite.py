"""`CompositeEventEmitter`: one emission handed to several backends."""

from __future__ import annotations

import pytest

from events_core import (
    AsyncIOEventEmitter,
    CompositeEventEmitter,
    ConfigurationTypeError,
    EmitError,
    EventEmission,
    EventEmitter,
    EventLinker,
    EventsError,
)
from events_core.testing import RecordingEventEmitter


class BackendDownError(Exception):
    pass


class Failing(EventEmitter):
    """A backend whose `dispatch` always raises its own error."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.attempts: list[EventEmission] = []

    def dispatch(self, emission: EventEmission) -> None:
        self.attempts.append(emission)
        raise self.error


def test_one_emission_with_the_same_id_reaches_each_backend(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda value: None)
    first, second = RecordingEventEmitter(), RecordingEventEmitter()

    emission = CompositeEventEmitter(first, second, linker=linker).emit("A", 1)

    assert emission is not None
    assert first.emissions == [emission]
    assert second.emissions == [emission]
    assert first.emissions[0] is second.emissions[0]
    assert first.emissions[0].id == second.emissions[0].id == emission.id


def test_backends_receive_the_emission_in_the_order_given(linker: type[EventLinker]) -> None:
    order: list[str] = []
    linker.on("A")(lambda: None)

    class Named(EventEmitter):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def dispatch(self, emission: EventEmission) -> None:
            order.append(self.name)

    CompositeEventEmitter(Named("one"), Named("two"), Named("three"), linker=linker).emit("A")

    assert order == ["one", "two", "three"]


def test_handlers_are_resolved_from_the_composites_linker_only(
    linker: type[EventLinker],
) -> None:
    class Other(EventLinker):
        pass

    handler = linker.subscribe("A", event_callback=lambda: None)
    Other.subscribe("A", event_callback=lambda: None)
    backend = RecordingEventEmitter(linker=Other)

    emission = CompositeEventEmitter(backend, linker=linker).emit("A")

    assert emission is not None
    assert emission.handlers == (handler,)
    assert backend.emissions[0].handlers == (handler,)


def test_emit_returns_none_and_reaches_no_backend_without_handlers(
    linker: type[EventLinker],
) -> None:
    backend = RecordingEventEmitter()

    assert CompositeEventEmitter(backend, linker=linker).emit("A") is None
    assert backend.emissions == []


def test_in_process_backends_run_the_handlers(linker: type[EventLinker]) -> None:
    calls: list[int] = []
    linker.on("A")(calls.append)
    recorder = RecordingEventEmitter()

    CompositeEventEmitter(AsyncIOEventEmitter(), recorder, linker=linker).emit("A", 7)

    assert calls == [7]
    assert recorder.events == ["A"]


def test_one_backend_raising_does_not_stop_the_others(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda: None)
    error = BackendDownError("first is down")
    failing = Failing(error)
    after = RecordingEventEmitter()

    with pytest.raises(EmitError) as raised:
        CompositeEventEmitter(failing, after, linker=linker).emit("A")

    assert len(after.emissions) == 1
    assert failing.attempts == after.emissions
    assert raised.value.errors == (error,)


def test_failures_of_several_backends_are_raised_together(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda: None)
    first_error = BackendDownError("one")
    second_error = ValueError("two")
    middle = RecordingEventEmitter()

    with pytest.raises(
        EmitError, match=r"2 emitter\(s\) failed: BackendDownError, ValueError"
    ) as e:
        CompositeEventEmitter(
            Failing(first_error), middle, Failing(second_error), linker=linker
        ).emit("A")

    assert e.value.errors == (first_error, second_error)
    assert len(middle.emissions) == 1
    assert isinstance(e.value, EventsError)


def test_once_handlers_are_put_back_when_a_backend_fails(linker: type[EventLinker]) -> None:
    once = linker.subscribe("A", event_callback=lambda: None, once=True)

    with pytest.raises(EmitError):
        CompositeEventEmitter(
            RecordingEventEmitter(), Failing(BackendDownError()), linker=linker
        ).emit("A")

    assert linker.get_event_handlers("A") == [once]


def test_once_handlers_are_taken_when_every_backend_succeeds(linker: type[EventLinker]) -> None:
    linker.subscribe("A", event_callback=lambda: None, once=True)
    first, second = RecordingEventEmitter(), RecordingEventEmitter()
    composite = CompositeEventEmitter(first, second, linker=linker)

    composite.emit("A")

    assert linker.get_event_handlers("A") == []
    assert composite.emit("A") is None
    assert len(first.emissions) == len(second.emissions) == 1


def test_a_composite_of_no_emitters_is_allowed(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda: None)

    assert CompositeEventEmitter(linker=linker).emit("A") is not None


@pytest.mark.parametrize("given", [None, "emitter", RecordingEventEmitter])
def test_only_event_emitters_can_be_composed(given: object) -> None:
    with pytest.raises(TypeError, match="CompositeEventEmitter takes EventEmitters") as caught:
        CompositeEventEmitter(RecordingEventEmitter(), given)  # type: ignore[arg-type]

    assert isinstance(caught.value, ConfigurationTypeError)
    assert caught.value.setting == "emitters"


def test_composites_can_be_nested(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda: None)
    inner_backend = RecordingEventEmitter()
    outer_backend = RecordingEventEmitter()
    inner = CompositeEventEmitter(inner_backend)

    emission = CompositeEventEmitter(inner, outer_backend, linker=linker).emit("A")

    assert inner_backend.emissions == [emission]
    assert outer_backend.emissions == [emission]
