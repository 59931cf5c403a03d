"""`EventLinker`: registration, inspection, namespaces, limits, order and thread-safety."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from events_core import (
    AsyncIOEventEmitter,
    ConfigurationError,
    EventHandler,
    EventLinker,
    MaxHandlersExceededError,
)
from events_core.registry import Resolution, Selection, find_linker
from events_core.testing import RecordingEventEmitter


@dataclass
class Base:
    pass


@dataclass
class Child(Base):
    pass


def _recorder(calls: list[str], label: str):
    def handler(*args: object, **kwargs: object) -> None:
        calls.append(label)

    return handler


# decorators --------------------------------------------------------------------------------------


def test_on_returns_the_decorated_function_unchanged(linker: type[EventLinker]) -> None:
    def handler(value: int) -> int:
        return value + 1

    decorated = linker.on("A", "B")(handler)

    assert decorated is handler
    assert decorated(1) == 2
    assert [h.event_callback for h in linker.get_event_handlers("A")] == [handler]
    assert [h.event_callback for h in linker.get_event_handlers("B")] == [handler]


def test_once_returns_the_decorated_function_unchanged(linker: type[EventLinker]) -> None:
    def handler() -> str:
        return "ok"

    decorated = linker.once("A")(handler)

    assert decorated is handler
    assert decorated() == "ok"
    (registered,) = linker.get_event_handlers("A")
    assert registered.once
    assert registered.event_callback is handler


def test_on_passes_force_async_to_the_handler(linker: type[EventLinker]) -> None:
    @linker.on("A", force_async=True)
    def handler() -> None:
        pass

    @linker.once("B", force_async=True)
    def other() -> None:
        pass

    assert linker.get_event_handlers("A")[0].force_async
    assert linker.get_event_handlers("B")[0].force_async


def test_a_handler_decorated_with_on_runs_for_every_emission(linker: type[EventLinker]) -> None:
    calls: list[int] = []

    @linker.on("A")
    def handler(value: int) -> None:
        calls.append(value)

    emitter = AsyncIOEventEmitter(linker=linker)
    emitter.emit("A", 1)
    emitter.emit("A", 2)

    assert calls == [1, 2]


def test_a_handler_decorated_with_once_runs_for_one_emission_only(
    linker: type[EventLinker],
) -> None:
    calls: list[int] = []

    @linker.once("A", "B")
    def handler(value: int) -> None:
        calls.append(value)

    emitter = AsyncIOEventEmitter(linker=linker)
    emitter.emit("B", 1)
    assert emitter.emit("A", 2) is None
    assert emitter.emit("B", 3) is None

    assert calls == [1]
    assert linker.get_events() == []


# subscribe / unsubscribe -------------------------------------------------------------------------


def test_subscribe_returns_the_handler_it_registered(linker: type[EventLinker]) -> None:
    def callback() -> None:
        pass

    def on_success(result: object) -> None:
        pass

    def on_failure(exc: BaseException) -> None:
        pass

    handler = linker.subscribe(
        "A",
        Base,
        event_callback=callback,
        success_callback=on_success,
        failure_callback=on_failure,
        once=True,
        force_async=True,
    )

    assert isinstance(handler, EventHandler)
    assert handler.event_callback is callback
    assert handler.success_callback is on_success
    assert handler.failure_callback is on_failure
    assert handler.once
    assert handler.force_async
    assert linker.get_event_handlers("A") == [handler]
    assert linker.get_event_handlers(Base) == [handler]


def test_subscribing_the_same_event_twice_in_one_call_registers_the_handler_once(
    linker: type[EventLinker],
) -> None:
    handler = linker.subscribe("A", "A", event_callback=lambda: None)

    assert linker.get_event_handlers("A") == [handler]


def test_unsubscribe_removes_the_handler_from_the_given_events_only(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    handler = linker.subscribe("A", "B", event_callback=_recorder(calls, "h"))
    emitter = AsyncIOEventEmitter(linker=linker)

    assert linker.unsubscribe("A", event_handler=handler) is True

    assert linker.get_event_handlers("A") == []
    assert linker.get_event_handlers("B") == [handler]
    assert linker.get_events() == ["B"]
    assert emitter.emit("A") is None
    emitter.emit("B")
    assert calls == ["h"]


def test_unsubscribe_returns_false_when_nothing_was_removed(linker: type[EventLinker]) -> None:
    handler = linker.subscribe("A", event_callback=lambda: None)
    stranger = EventHandler(lambda: None)

    assert linker.unsubscribe("B", event_handler=handler) is False
    assert linker.unsubscribe("A", event_handler=stranger) is False
    assert linker.unsubscribe("A", event_handler=handler) is True
    assert linker.unsubscribe("A", event_handler=handler) is False


def test_unsubscribe_leaves_other_handlers_of_the_event_in_order(
    linker: type[EventLinker],
) -> None:
    first = linker.subscribe("A", event_callback=lambda: None)
    second = linker.subscribe("A", event_callback=lambda: None)
    third = linker.subscribe("A", event_callback=lambda: None)

    linker.unsubscribe("A", event_handler=second)

    assert linker.get_event_handlers("A") == [first, third]


def test_unsubscribing_after_an_emission_stops_the_next_emission(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    handler = linker.subscribe("A", event_callback=_recorder(calls, "h"))
    emitter = AsyncIOEventEmitter(linker=linker)

    emitter.emit("A")
    linker.unsubscribe("A", event_handler=handler)

    assert emitter.emit("A") is None
    assert calls == ["h"]


def test_subscribing_after_an_emission_reaches_the_next_emission(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    linker.subscribe("A", event_callback=_recorder(calls, "first"))
    emitter = AsyncIOEventEmitter(linker=linker)

    emitter.emit("A")
    linker.subscribe(..., event_callback=_recorder(calls, "second"))
    emitter.emit("A")

    assert calls == ["first", "first", "second"]


def test_remove_event_removes_every_handler_of_that_event(linker: type[EventLinker]) -> None:
    calls: list[str] = []
    linker.subscribe("A", event_callback=_recorder(calls, "one"))
    both = linker.subscribe("A", "B", event_callback=_recorder(calls, "both"))
    emitter = AsyncIOEventEmitter(linker=linker)

    assert linker.remove_event("A") is True

    assert linker.get_events() == ["B"]
    assert linker.get_event_handlers("B") == [both]
    assert emitter.emit("A") is None
    emitter.emit("B")
    assert calls == ["both"]


def test_remove_event_returns_false_for_an_event_without_handlers(
    linker: type[EventLinker],
) -> None:
    assert linker.remove_event("A") is False
    assert linker.remove_event(Base) is False


def test_remove_event_of_a_class_keeps_handlers_of_its_subclasses(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    linker.subscribe(Base, event_callback=_recorder(calls, "base"))
    linker.subscribe(Child, event_callback=_recorder(calls, "child"))

    assert linker.remove_event(Base) is True
    AsyncIOEventEmitter(linker=linker).emit(Child())

    assert calls == ["child"]


def test_remove_all_removes_every_handler_of_every_event(linker: type[EventLinker]) -> None:
    calls: list[str] = []
    linker.subscribe("A", event_callback=_recorder(calls, "a"))
    linker.subscribe(Base, event_callback=_recorder(calls, "base"))
    linker.subscribe(..., event_callback=_recorder(calls, "all"))
    emitter = AsyncIOEventEmitter(linker=linker)
    emitter.emit("A")

    linker.remove_all()

    assert linker.get_events() == []
    assert linker.get_event_handlers() == []
    assert emitter.emit("A") is None
    assert emitter.emit(Child()) is None
    assert calls == ["a", "all"]


# inspection --------------------------------------------------------------------------------------


def test_get_events_lists_the_events_that_have_handlers(linker: type[EventLinker]) -> None:
    assert linker.get_events() == []
    linker.subscribe("A", Base, event_callback=lambda: None)
    linker.subscribe(..., event_callback=lambda: None)

    assert set(linker.get_events()) == {"A", Base, ...}


def test_get_event_handlers_of_an_event_lists_them_in_subscription_order(
    linker: type[EventLinker],
) -> None:
    first = linker.subscribe("A", event_callback=lambda: None)
    linker.subscribe("B", event_callback=lambda: None)
    second = linker.subscribe("B", "A", event_callback=lambda: None)

    assert linker.get_event_handlers("A") == [first, second]
    assert linker.get_event_handlers("C") == []


def test_get_event_handlers_of_a_class_lists_only_handlers_of_that_exact_class(
    linker: type[EventLinker],
) -> None:
    base = linker.subscribe(Base, event_callback=lambda: None)
    child = linker.subscribe(Child, event_callback=lambda: None)

    assert linker.get_event_handlers(Base) == [base]
    assert linker.get_event_handlers(Child) == [child]


def test_get_event_handlers_without_an_event_lists_every_handler_once_in_order(
    linker: type[EventLinker],
) -> None:
    first = linker.subscribe("A", "B", event_callback=lambda: None)
    second = linker.subscribe(..., event_callback=lambda: None)
    third = linker.subscribe("B", Base, event_callback=lambda: None)

    assert linker.get_event_handlers() == [first, second, third]


def test_get_event_handlers_returns_a_copy(linker: type[EventLinker]) -> None:
    handler = linker.subscribe("A", event_callback=lambda: None)

    linker.get_event_handlers("A").clear()
    linker.get_events().clear()

    assert linker.get_event_handlers("A") == [handler]
    assert linker.get_events() == ["A"]


def test_subscribed_classes_lists_the_classes_with_handlers(linker: type[EventLinker]) -> None:
    linker.subscribe("A", Base, ValueError, ..., event_callback=lambda: None)

    assert set(linker.subscribed_classes()) == {Base, ValueError}


def test_path_is_the_linkers_import_path() -> None:
    class Billing(EventLinker):
        pass

    assert Billing.path() == (
        "tests.events_core.test_registry:test_path_is_the_linkers_import_path.<locals>.Billing"
    )


def test_an_imported_linker_is_found_by_its_import_path(linker: type[EventLinker]) -> None:
    assert find_linker(linker.path()) is linker
    assert find_linker(EventLinker.path()) is EventLinker
    assert find_linker("events_core.registry:EventLinker") is EventLinker
    assert find_linker("nowhere:Nothing") is None


# namespaces --------------------------------------------------------------------------------------


def test_subclasses_are_isolated_namespaces() -> None:
    class Billing(EventLinker):
        pass

    class Shipping(EventLinker):
        pass

    calls: list[str] = []
    event = "test_subclasses_are_isolated_namespaces"  # a name no other test subscribes to
    billing = Billing.subscribe(event, event_callback=_recorder(calls, "billing"))

    assert Shipping.get_events() == []
    assert EventLinker.get_event_handlers(event) == []
    assert AsyncIOEventEmitter(linker=Shipping).emit(event) is None
    assert Billing.get_event_handlers(event) == [billing]
    AsyncIOEventEmitter(linker=Billing).emit(event)
    assert calls == ["billing"]


def test_a_subclass_of_a_subclass_has_its_own_namespace_too() -> None:
    class Billing(EventLinker):
        pass

    class Invoices(Billing):
        pass

    parent = Billing.subscribe("A", event_callback=lambda: None)
    child = Invoices.subscribe("A", event_callback=lambda: None)

    assert Billing.get_event_handlers("A") == [parent]
    assert Invoices.get_event_handlers("A") == [child]
    Invoices.remove_all()
    assert Billing.get_event_handlers("A") == [parent]


# max_event_handlers ------------------------------------------------------------------------------


def test_max_event_handlers_raises_when_one_event_would_have_too_many() -> None:
    class Small(EventLinker, max_event_handlers=2):
        pass

    Small.subscribe("A", event_callback=lambda: None)
    Small.subscribe("A", event_callback=lambda: None)

    with pytest.raises(MaxHandlersExceededError, match=r"at most 2 handlers for event 'A'") as e:
        Small.subscribe("A", event_callback=lambda: None)
    with pytest.raises(MaxHandlersExceededError):
        Small.on("A")(lambda: None)

    assert e.value.maximum == 2
    assert e.value.event == "A"
    assert e.value.linker == Small.path()
    assert len(Small.get_event_handlers("A")) == 2


def test_max_event_handlers_counts_each_event_separately() -> None:
    class Small(EventLinker, max_event_handlers=1):
        pass

    Small.subscribe("A", event_callback=lambda: None)
    Small.subscribe("B", event_callback=lambda: None)
    Small.subscribe(Base, event_callback=lambda: None)

    assert len(Small.get_event_handlers()) == 3


def test_max_event_handlers_exceeded_on_one_event_subscribes_to_none_of_them() -> None:
    class Small(EventLinker, max_event_handlers=1):
        pass

    Small.subscribe("B", event_callback=lambda: None)

    with pytest.raises(MaxHandlersExceededError):
        Small.subscribe("A", "B", event_callback=lambda: None)

    assert Small.get_event_handlers("A") == []


def test_max_event_handlers_leaves_room_after_unsubscribing() -> None:
    class Small(EventLinker, max_event_handlers=1):
        pass

    handler = Small.subscribe("A", event_callback=lambda: None)
    Small.unsubscribe("A", event_handler=handler)

    Small.subscribe("A", event_callback=lambda: None)
    assert len(Small.get_event_handlers("A")) == 1


def test_max_event_handlers_is_inherited_by_subclasses() -> None:
    class Small(EventLinker, max_event_handlers=1):
        pass

    class Smaller(Small):
        pass

    Smaller.subscribe("A", event_callback=lambda: None)
    with pytest.raises(MaxHandlersExceededError):
        Smaller.subscribe("A", event_callback=lambda: None)


def test_the_default_linker_has_no_handler_limit(linker: type[EventLinker]) -> None:
    assert linker.max_event_handlers is None
    for _ in range(200):
        linker.subscribe("A", event_callback=lambda: None)
    assert len(linker.get_event_handlers("A")) == 200


@pytest.mark.parametrize("maximum", [0, -1, "3", 1.5])
def test_max_event_handlers_must_be_a_positive_int(maximum: object) -> None:
    problem = "max_event_handlers: must be a positive int"
    with pytest.raises(ConfigurationError, match=problem) as caught:

        class Bad(EventLinker, max_event_handlers=maximum):  # type: ignore[arg-type]
            pass

    assert isinstance(caught.value, ValueError)
    assert caught.value.setting == "max_event_handlers"


# order -------------------------------------------------------------------------------------------


def test_handlers_of_one_emission_run_in_subscription_order_catch_all_included(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    linker.subscribe("A", event_callback=_recorder(calls, "a1"))
    linker.subscribe(..., event_callback=_recorder(calls, "all1"))
    linker.subscribe("A", event_callback=_recorder(calls, "a2"))
    linker.subscribe(..., event_callback=_recorder(calls, "all2"))
    linker.subscribe("A", event_callback=_recorder(calls, "a3"))

    AsyncIOEventEmitter(linker=linker).emit("A")

    assert calls == ["a1", "all1", "a2", "all2", "a3"]


def test_class_handlers_run_in_subscription_order_not_mro_order(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    linker.subscribe(Child, event_callback=_recorder(calls, "child"))
    linker.subscribe(..., event_callback=_recorder(calls, "all"))
    linker.subscribe(Base, event_callback=_recorder(calls, "base"))
    linker.subscribe(Child, event_callback=_recorder(calls, "child2"))

    emission = RecordingEventEmitter(linker=linker).emit(Child())

    assert emission is not None
    emission.run()
    assert calls == ["child", "all", "base", "child2"]


def test_a_handler_subscribed_to_both_base_and_child_runs_once_per_emission(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    handler = linker.subscribe(Base, Child, ..., event_callback=_recorder(calls, "h"))

    emission = AsyncIOEventEmitter(linker=linker).emit(Child())

    assert calls == ["h"]
    assert emission is not None
    assert emission.handlers == (handler,)


def test_handlers_for_resolves_the_handlers_an_emission_would_run(
    linker: type[EventLinker],
) -> None:
    base = linker.subscribe(Base, event_callback=lambda: None)
    every = linker.subscribe(..., event_callback=lambda: None)
    named = linker.subscribe("A", event_callback=lambda: None)

    assert linker.handlers_for(Child()) == (base, every)
    assert linker.handlers_for("A") == (every, named)
    assert linker.handlers_for("B") == (every,)


# lending handlers to emissions -------------------------------------------------------------------


def module_level(*args: object) -> None:
    pass


def other_module_level(*args: object) -> None:
    pass


def test_lend_resolves_handlers_and_says_whether_they_all_run_inline(
    linker: type[EventLinker],
) -> None:
    async def async_handler() -> None:
        pass

    sync = linker.subscribe("A", event_callback=lambda: None)

    assert linker.lend("A") == Resolution((sync,), True, ())
    awaited = linker.subscribe(Base, event_callback=async_handler)
    assert linker.lend(Child) == Resolution((awaited,), False, ())
    assert linker.lend("B") == Resolution((), True, ())


def test_lend_takes_once_handlers_and_give_back_puts_them_back_in_order(
    linker: type[EventLinker],
) -> None:
    first = linker.subscribe("A", event_callback=lambda: None)
    once = linker.subscribe("A", "B", event_callback=lambda: None, once=True)
    last = linker.subscribe("A", event_callback=lambda: None)

    resolution = linker.lend("A")

    assert resolution.handlers == (first, once, last)
    assert resolution.lent == (once,)
    assert linker.lend("A").handlers == (first, last)
    assert linker.get_event_handlers("B") == []

    linker.give_back(resolution.lent)

    assert linker.lend("B").lent == (once,)
    linker.give_back((once,))
    assert linker.get_event_handlers("A") == [first, once, last]
    assert linker.get_event_handlers("B") == [once]


def test_resolutions_is_a_live_read_only_view_of_what_lend_answers_from_its_cache(
    linker: type[EventLinker],
) -> None:
    resolutions = linker.resolutions()
    handler = linker.subscribe("A", event_callback=lambda: None)
    linker.subscribe("B", event_callback=lambda: None, once=True)

    assert linker.lend("A") is resolutions["A"]
    assert resolutions["A"] == Resolution((handler,), True, ())
    linker.handlers_for("B")
    assert "B" not in resolutions
    with pytest.raises(TypeError):
        resolutions["A"] = Resolution((), True, ())  # type: ignore[index]

    linker.subscribe("A", event_callback=lambda: None)

    assert "A" not in resolutions
    assert len(linker.lend("A").handlers) == 2


def test_handlers_named_picks_the_named_handlers_in_subscription_order(
    linker: type[EventLinker],
) -> None:
    other = linker.subscribe("A", event_callback=other_module_level)
    handler = linker.subscribe("A", event_callback=module_level)
    linker.subscribe("B", event_callback=lambda: None)

    selection = linker.handlers_named("A", [handler.ref, "x:missing", other.ref, "x:missing"])

    assert selection == Selection((other, handler), ("x:missing",))


def test_handlers_named_finds_a_lent_once_handler_for_its_events_only(
    linker: type[EventLinker],
) -> None:
    before = linker.subscribe(Base, event_callback=other_module_level)
    once = linker.subscribe(Base, event_callback=module_level, once=True)
    linker.lend(Child)

    assert linker.handlers_for(Child()) == (before,)
    assert linker.handlers_named(Child(), [once.ref, before.ref]).handlers == (before, once)
    assert linker.handlers_named("A", [once.ref]) == Selection((), (once.ref,))
    assert linker.handlers_named(Child(), [once.ref]).handlers == (once,)


def test_a_lent_handler_is_forgotten_when_unsubscribed_or_removed(
    linker: type[EventLinker],
) -> None:
    once = linker.subscribe("A", "B", event_callback=module_level, once=True)
    linker.lend("A")

    linker.unsubscribe("A", event_handler=once)
    assert linker.handlers_named("A", [once.ref]).handlers == ()
    assert linker.handlers_named("B", [once.ref]).handlers == (once,)
    linker.remove_event("B")
    assert linker.handlers_named("B", [once.ref]).handlers == ()

    again = linker.subscribe("A", event_callback=module_level, once=True)
    linker.lend("A")
    linker.remove_all()
    assert linker.handlers_named("A", [again.ref]).handlers == ()


# thread-safety -----------------------------------------------------------------------------------

THREADS = 8


def _run_threads(target, count: int = THREADS) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait()
            target(index)
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_threads_subscribing_unsubscribing_and_emitting_at_once_leave_a_consistent_registry(
    linker: type[EventLinker],
) -> None:
    rounds = 200
    lock = threading.Lock()
    counts: dict[int, int] = {}
    kept: dict[int, list[EventHandler]] = {}
    emitter = AsyncIOEventEmitter(linker=linker)

    def work(index: int) -> None:
        def count(*args: object) -> None:
            with lock:
                counts[index] = counts.get(index, 0) + 1

        mine: list[EventHandler] = []
        for step in range(rounds):
            handler = linker.subscribe("shared", f"own{index}", event_callback=count)
            emitter.emit(f"own{index}")
            emitter.emit("shared")
            if step % 2:
                assert linker.unsubscribe("shared", f"own{index}", event_handler=handler)
            else:
                mine.append(handler)
        kept[index] = mine

    _run_threads(work)

    every_kept = [handler for index in sorted(kept) for handler in kept[index]]
    assert len(linker.get_event_handlers("shared")) == THREADS * rounds // 2
    assert set(map(id, linker.get_event_handlers("shared"))) == set(map(id, every_kept))
    for index in range(THREADS):
        assert linker.get_event_handlers(f"own{index}") == kept[index]
        # Each "own" emission reaches at least the handler subscribed just before it.
        assert counts[index] >= 2 * rounds
    sequences = [handler.sequence for handler in linker.get_event_handlers("shared")]
    assert sequences == sorted(sequences)
    assert linker.get_event_handlers() == sorted(every_kept, key=lambda h: h.sequence)


def test_threads_subscribing_at_once_lose_no_handler(linker: type[EventLinker]) -> None:
    per_thread = 300

    def work(index: int) -> None:
        for _ in range(per_thread):
            linker.subscribe("A", ..., event_callback=lambda: None)

    _run_threads(work)

    assert len(linker.get_event_handlers("A")) == THREADS * per_thread
    assert linker.get_event_handlers(...) == linker.get_event_handlers("A")


def test_threads_removing_events_while_others_emit_never_fail(linker: type[EventLinker]) -> None:
    emitter = AsyncIOEventEmitter(linker=linker)

    def work(index: int) -> None:
        for _ in range(200):
            if index % 2:
                linker.subscribe("A", Base, event_callback=lambda *a: None)
                linker.remove_event("A")
                linker.remove_all()
            else:
                emitter.emit("A")
                emitter.emit(Child())

    _run_threads(work)
    linker.remove_all()
    assert linker.get_events() == []


def _appender(calls: list[object]):
    def handler(*args: object) -> None:
        calls.append(args)

    return handler


def test_a_once_handler_emitted_from_many_threads_at_once_runs_exactly_once(
    linker: type[EventLinker],
) -> None:
    emitter = AsyncIOEventEmitter(linker=linker)
    for _ in range(20):
        calls: list[object] = []
        returned: list[object] = []
        handler = linker.subscribe("A", Base, event_callback=_appender(calls), once=True)

        def work(index: int, returned: list[object] = returned) -> None:
            returned.append(emitter.emit("A" if index % 2 else Child(), index))

        _run_threads(work, count=16)

        assert len(calls) == 1
        assert [emission.handlers for emission in returned if emission is not None] == [(handler,)]
        assert linker.get_events() == []


def test_a_million_distinct_event_names_keep_the_resolution_cache_bounded(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []
    linker.subscribe(..., event_callback=lambda *args, **kwargs: calls.append("any"))
    emitter = AsyncIOEventEmitter(linker=linker)

    for number in range(1_000_000):
        emitter.emit(f"event.{number}")

    assert len(calls) == 1_000_000
    assert len(linker.resolutions()) == linker.max_cached_events
    assert "event.999999" in linker.resolutions()
    assert "event.0" not in linker.resolutions()


def test_an_evicted_event_resolves_again_to_its_handlers(linker: type[EventLinker]) -> None:
    class Small(linker):  # type: ignore[valid-type, misc]
        max_cached_events = 2

    calls: list[str] = []
    Small.subscribe("a", event_callback=lambda: calls.append("a"))
    emitter = AsyncIOEventEmitter(linker=Small)

    for name in ("a", "b", "c", "a"):
        emitter.emit(name)

    assert calls == ["a", "a"]
    assert set(Small.resolutions()) == {"c", "a"}
