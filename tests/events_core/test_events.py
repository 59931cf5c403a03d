"""What counts as an event, how it dispatches along the MRO, and its wire name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from events_core import AsyncIOEventEmitter, EventLinker, InvalidEventError
from events_core.events import class_path, event_name, is_event_class, key_name, validate_key
from events_core.testing import RecordingEventEmitter
from tests.events_core import pool_handlers


@dataclass
class OrderPlaced:
    order_id: int


@dataclass
class Animal:
    name: str


@dataclass
class Dog(Animal):
    pass


@dataclass
class Puppy(Dog):
    pass


class PaymentError(Exception):
    pass


class CardDeclinedError(PaymentError):
    pass


class NotAnEvent:
    """A plain class: neither a dataclass nor an exception."""


def _recorder(calls: list[object], label: str):
    def handler(*args: object, **kwargs: object) -> None:
        calls.append((label, args, kwargs))

    return handler


# what an event is --------------------------------------------------------------------------------


def test_a_string_name_is_an_event_and_its_own_wire_name(linker: type[EventLinker]) -> None:
    calls: list[object] = []
    linker.subscribe("OrderPlaced", event_callback=_recorder(calls, "h"))

    emission = AsyncIOEventEmitter(linker=linker).emit("OrderPlaced", 42, rush=True)

    assert emission is not None
    assert emission.event == "OrderPlaced"
    assert emission.kind == "name"
    assert calls == [("h", (42,), {"rush": True})]
    assert event_name("OrderPlaced") == "OrderPlaced"


def test_a_dataclass_instance_is_an_event_passed_as_the_first_argument(
    linker: type[EventLinker],
) -> None:
    calls: list[object] = []
    linker.subscribe(OrderPlaced, event_callback=_recorder(calls, "h"))
    event = OrderPlaced(7)

    emission = AsyncIOEventEmitter(linker=linker).emit(event, "extra", note="n")

    assert emission is not None
    assert emission.kind == "class"
    assert emission.args[0] is event
    assert calls == [("h", (event, "extra"), {"note": "n"})]


def test_an_exception_instance_is_an_event(linker: type[EventLinker]) -> None:
    calls: list[object] = []
    linker.subscribe(PaymentError, event_callback=_recorder(calls, "h"))
    error = PaymentError("card expired")

    emission = AsyncIOEventEmitter(linker=linker).emit(error)

    assert emission is not None
    assert emission.event == "tests.events_core.test_events:PaymentError"
    assert calls == [("h", (error,), {})]


def test_a_builtin_exception_class_can_be_subscribed_to(linker: type[EventLinker]) -> None:
    calls: list[object] = []
    linker.subscribe(LookupError, event_callback=_recorder(calls, "lookup"))
    error = KeyError("missing")

    emission = AsyncIOEventEmitter(linker=linker).emit(error)

    assert emission is not None
    assert emission.event == "builtins:KeyError"
    assert calls == [("lookup", (error,), {})]


def test_is_event_class_accepts_dataclasses_and_exceptions_only() -> None:
    assert is_event_class(OrderPlaced)
    assert is_event_class(PaymentError)
    assert is_event_class(ValueError)
    assert not is_event_class(OrderPlaced(1))
    assert not is_event_class(NotAnEvent)
    assert not is_event_class(KeyboardInterrupt)  # a BaseException, not an Exception
    assert not is_event_class(str)
    assert not is_event_class("OrderPlaced")


# dispatch along the MRO --------------------------------------------------------------------------


def test_a_handler_on_a_base_class_receives_subclass_instances(linker: type[EventLinker]) -> None:
    calls: list[object] = []
    linker.subscribe(Animal, event_callback=_recorder(calls, "animal"))
    emitter = AsyncIOEventEmitter(linker=linker)

    puppy = Puppy("rex")
    emitter.emit(Animal("generic"))
    emitter.emit(puppy)

    assert calls == [("animal", (Animal("generic"),), {}), ("animal", (puppy,), {})]


def test_a_handler_on_a_subclass_does_not_receive_base_class_instances(
    linker: type[EventLinker],
) -> None:
    calls: list[object] = []
    linker.subscribe(Dog, event_callback=_recorder(calls, "dog"))
    emitter = AsyncIOEventEmitter(linker=linker)

    assert emitter.emit(Animal("cat")) is None
    emitter.emit(Puppy("rex"))

    assert calls == [("dog", (Puppy("rex"),), {})]


def test_an_exception_subclass_reaches_handlers_of_each_of_its_bases_like_except(
    linker: type[EventLinker],
) -> None:
    calls: list[object] = []
    linker.subscribe(Exception, event_callback=_recorder(calls, "exception"))
    linker.subscribe(PaymentError, event_callback=_recorder(calls, "payment"))
    linker.subscribe(CardDeclinedError, event_callback=_recorder(calls, "declined"))
    linker.subscribe(ValueError, event_callback=_recorder(calls, "value"))
    error = CardDeclinedError("no funds")

    AsyncIOEventEmitter(linker=linker).emit(error)

    assert [label for label, _, _ in calls] == ["exception", "payment", "declined"]


def test_the_catch_all_receives_every_kind_of_event(linker: type[EventLinker]) -> None:
    calls: list[object] = []
    linker.subscribe(..., event_callback=_recorder(calls, "all"))
    emitter = AsyncIOEventEmitter(linker=linker)
    error = PaymentError("x")

    emitter.emit("anything")
    emitter.emit(OrderPlaced(1))
    emitter.emit(error)

    assert calls == [
        ("all", (), {}),
        ("all", (OrderPlaced(1),), {}),
        ("all", (error,), {}),
    ]


def test_a_string_event_does_not_reach_handlers_of_other_names(linker: type[EventLinker]) -> None:
    calls: list[object] = []
    linker.subscribe("A", event_callback=_recorder(calls, "a"))

    assert AsyncIOEventEmitter(linker=linker).emit("B") is None
    assert calls == []


# wire names --------------------------------------------------------------------------------------


def test_the_wire_name_of_a_class_event_is_module_colon_qualname() -> None:
    assert class_path(OrderPlaced) == "tests.events_core.test_events:OrderPlaced"
    assert event_name(OrderPlaced(1)) == "tests.events_core.test_events:OrderPlaced"
    assert event_name(Puppy("rex")) == "tests.events_core.test_events:Puppy"


def test_the_wire_name_of_a_nested_class_uses_its_qualified_name() -> None:
    class Outer:
        @dataclass
        class Inner:
            pass

    assert event_name(Outer.Inner()) == (
        "tests.events_core.test_events:"
        "test_the_wire_name_of_a_nested_class_uses_its_qualified_name.<locals>.Outer.Inner"
    )


def test_two_classes_with_the_same_name_in_different_modules_never_collide(
    linker: type[EventLinker],
) -> None:
    assert OrderPlaced.__name__ == pool_handlers.OrderPlaced.__name__
    calls: list[object] = []
    linker.subscribe(OrderPlaced, event_callback=_recorder(calls, "here"))
    recorder = RecordingEventEmitter(linker=linker)

    assert recorder.emit(pool_handlers.OrderPlaced(1)) is None
    recorder.emit(OrderPlaced(1))

    assert recorder.events == ["tests.events_core.test_events:OrderPlaced"]
    assert event_name(pool_handlers.OrderPlaced(1)) == (
        "tests.events_core.pool_handlers:OrderPlaced"
    )


def test_a_string_subclass_event_is_emitted_as_a_plain_string(linker: type[EventLinker]) -> None:
    class Name(str):
        pass

    calls: list[object] = []
    linker.subscribe("Shipped", event_callback=_recorder(calls, "h"))

    emission = AsyncIOEventEmitter(linker=linker).emit(Name("Shipped"))

    assert emission is not None
    assert type(emission.event) is str
    assert emission.event == "Shipped"
    assert calls == [("h", (), {})]
    assert type(event_name(Name("Shipped"))) is str


def test_key_name_reads_strings_classes_and_the_catch_all() -> None:
    assert key_name("OrderPlaced") == "OrderPlaced"
    assert key_name(OrderPlaced) == "tests.events_core.test_events:OrderPlaced"
    assert key_name(...) == "..."


# invalid events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (None, "None of type NoneType"),
        ("", "an empty string"),
        (OrderPlaced, "the class tests.events_core.test_events.OrderPlaced"),
        (PaymentError, "the class tests.events_core.test_events.PaymentError"),
        (42, "42 of type int"),
        (NotAnEvent, "the class tests.events_core.test_events.NotAnEvent"),
        (..., "Ellipsis of type ellipsis"),
        (b"bytes", "b'bytes' of type bytes"),
    ],
)
def test_emitting_something_that_is_not_an_event_raises_naming_what_was_given(
    linker: type[EventLinker], given: object, named: str
) -> None:
    linker.subscribe(..., event_callback=lambda *a, **k: None)

    with pytest.raises(InvalidEventError, match="cannot emit") as raised:
        AsyncIOEventEmitter(linker=linker).emit(given)

    assert named in str(raised.value)
    assert raised.value.given is given
    with pytest.raises(InvalidEventError) as again:
        event_name(given)
    assert named in str(again.value)


def test_an_invalid_event_error_is_also_a_type_error() -> None:
    with pytest.raises(TypeError):
        event_name(None)


def test_emitting_an_instance_of_a_plain_class_raises(linker: type[EventLinker]) -> None:
    linker.subscribe(..., event_callback=lambda *a, **k: None)

    with pytest.raises(InvalidEventError, match="NotAnEvent object"):
        AsyncIOEventEmitter(linker=linker).emit(NotAnEvent())


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (None, "None of type NoneType"),
        ("", "an empty string"),
        (42, "42 of type int"),
        (NotAnEvent, "the class tests.events_core.test_events.NotAnEvent"),
        (OrderPlaced(1), "OrderPlaced(order_id=1) of type OrderPlaced"),
        (KeyboardInterrupt, "the class builtins.KeyboardInterrupt"),
    ],
)
def test_subscribing_to_something_that_is_not_an_event_key_raises(
    linker: type[EventLinker], given: object, named: str
) -> None:
    with pytest.raises(InvalidEventError, match="cannot subscribe to") as raised:
        linker.subscribe(given, event_callback=lambda: None)
    assert named in str(raised.value)

    with pytest.raises(InvalidEventError):
        linker.on(given)
    with pytest.raises(InvalidEventError):
        linker.once(given)
    with pytest.raises(InvalidEventError):
        validate_key(given)
    assert linker.get_events() == []


def test_subscribing_to_no_event_at_all_raises(linker: type[EventLinker]) -> None:
    with pytest.raises(InvalidEventError, match="cannot subscribe to"):
        linker.subscribe(event_callback=lambda: None)
    with pytest.raises(InvalidEventError):
        linker.on()


def test_one_invalid_key_among_valid_ones_subscribes_nothing(linker: type[EventLinker]) -> None:
    with pytest.raises(InvalidEventError):
        linker.subscribe("A", None, event_callback=lambda: None)

    assert linker.get_events() == []


def test_validate_key_accepts_names_event_classes_and_the_catch_all() -> None:
    assert validate_key("A") == "A"
    assert validate_key(OrderPlaced) is OrderPlaced
    assert validate_key(PaymentError) is PaymentError
    assert validate_key(...) is ...
