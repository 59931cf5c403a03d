"""`EventHandler`: callbacks, flags, import path and options."""

from __future__ import annotations

import asyncio
import pickle
import threading
from types import MappingProxyType

import pytest

from events_core import (
    AsyncIOEventEmitter,
    EventHandler,
    EventLinker,
    EventsError,
    HandlerNotImportableError,
    InvalidHandlerError,
)
from events_core.handler import OPTIONS_ATTRIBUTE, callable_ref, is_importable_ref
from tests.events_core import pool_handlers


def module_level_handler(value: int) -> int:
    return value * 10


async def module_level_async_handler(value: int) -> int:
    await asyncio.sleep(0)
    return value * 100


class Service:
    def method(self, value: int) -> int:
        return value

    @staticmethod
    def static(value: int) -> int:
        return value


class Boom(Exception):
    pass


# sync and async callbacks ------------------------------------------------------------------------


def test_a_sync_callback_runs_inline_and_its_result_is_reported() -> None:
    handler = EventHandler(module_level_handler)

    outcome = handler.run_sync((4,), {})

    assert handler.runs_inline
    assert not handler.is_async
    assert outcome.ok
    assert outcome.result == 40
    assert outcome.exception is None
    assert outcome.handler == "tests.events_core.test_handler:module_level_handler"
    assert outcome.duration >= 0


def test_a_sync_callback_receives_args_and_kwargs() -> None:
    received: list[object] = []
    handler = EventHandler(lambda *args, **kwargs: received.append((args, kwargs)))

    handler.run_sync((1, 2), {"key": "value"})

    assert received == [((1, 2), {"key": "value"})]


def test_an_async_callback_is_awaited() -> None:
    handler = EventHandler(module_level_async_handler)

    outcome = asyncio.run(handler.run_async((3,), {}))

    assert handler.is_async
    assert not handler.runs_inline
    assert outcome.ok
    assert outcome.result == 300


def test_a_sync_callback_also_runs_through_run_async() -> None:
    outcome = asyncio.run(EventHandler(module_level_handler).run_async((2,), {}))

    assert outcome.ok
    assert outcome.result == 20


def test_a_raising_callback_is_reported_not_raised() -> None:
    error = Boom("nope")

    def callback() -> None:
        raise error

    sync_outcome = EventHandler(callback).run_sync((), {})

    async def acallback() -> None:
        raise error

    async_outcome = asyncio.run(EventHandler(acallback).run_async((), {}))

    for outcome in (sync_outcome, async_outcome):
        assert not outcome.ok
        assert outcome.exception is error
        assert outcome.result is None
        assert outcome.duration >= 0


# success and failure callbacks -------------------------------------------------------------------


def test_the_success_callback_receives_the_result_of_a_sync_callback() -> None:
    results: list[object] = []
    handler = EventHandler(module_level_handler, success_callback=results.append)

    outcome = handler.run_sync((5,), {})

    assert results == [50]
    assert outcome.ok
    assert outcome.result == 50


def test_the_success_callback_receives_the_result_of_an_async_callback() -> None:
    results: list[object] = []
    handler = EventHandler(module_level_async_handler, success_callback=results.append)

    asyncio.run(handler.run_async((1,), {}))

    assert results == [100]


def test_an_async_success_callback_is_awaited() -> None:
    results: list[object] = []

    async def on_success(result: object) -> None:
        await asyncio.sleep(0)
        results.append(result)

    handler = EventHandler(module_level_handler, success_callback=on_success)

    assert not handler.runs_inline
    asyncio.run(handler.run_async((1,), {}))
    handler.run_sync((2,), {})

    assert results == [10, 20]


def test_the_failure_callback_receives_the_exception_of_a_sync_callback() -> None:
    error = Boom("sync")
    failures: list[BaseException] = []
    successes: list[object] = []

    def callback() -> None:
        raise error

    handler = EventHandler(callback, successes.append, failures.append)

    handler.run_sync((), {})
    asyncio.run(handler.run_async((), {}))

    assert failures == [error, error]
    assert successes == []


def test_the_failure_callback_receives_the_exception_of_an_async_callback() -> None:
    error = Boom("async")
    failures: list[BaseException] = []

    async def callback() -> None:
        raise error

    asyncio.run(EventHandler(callback, failure_callback=failures.append).run_async((), {}))

    assert failures == [error]


def test_an_async_failure_callback_is_awaited() -> None:
    error = Boom("x")
    failures: list[BaseException] = []

    def callback() -> None:
        raise error

    async def on_failure(exc: BaseException) -> None:
        await asyncio.sleep(0)
        failures.append(exc)

    handler = EventHandler(callback, failure_callback=on_failure)

    assert not handler.runs_inline
    asyncio.run(handler.run_async((), {}))
    handler.run_sync((), {})

    assert failures == [error, error]


def test_success_and_failure_callbacks_run_through_an_emitter(linker: type[EventLinker]) -> None:
    error = Boom("emitted")
    seen: list[object] = []

    async def on_success(result: object) -> None:
        seen.append(("async success", result))

    async def on_failure(exc: BaseException) -> None:
        seen.append(("async failure", exc))

    def failing(value: int) -> None:
        raise error

    linker.subscribe("A", event_callback=module_level_handler, success_callback=seen.append)
    linker.subscribe("A", event_callback=failing, failure_callback=seen.append)
    linker.subscribe("B", event_callback=module_level_handler, success_callback=on_success)
    linker.subscribe("B", event_callback=failing, failure_callback=on_failure)
    emitter = AsyncIOEventEmitter(linker=linker)

    emitter.emit("A", 1)
    emitter.emit("B", 2)

    assert seen == [10, error, ("async success", 20), ("async failure", error)]


def test_a_raising_success_callback_makes_the_outcome_a_failure() -> None:
    error = Boom("in success callback")

    def on_success(result: object) -> None:
        raise error

    handler = EventHandler(module_level_handler, success_callback=on_success)

    for outcome in (handler.run_sync((1,), {}), asyncio.run(handler.run_async((1,), {}))):
        assert not outcome.ok
        assert outcome.exception is error


def test_a_raising_failure_callback_is_logged_and_the_original_error_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = Boom("original")

    def callback() -> None:
        raise error

    def on_failure(exc: BaseException) -> None:
        raise RuntimeError("failure callback broke")

    handler = EventHandler(callback, failure_callback=on_failure)

    outcome = handler.run_sync((), {})
    async_outcome = asyncio.run(handler.run_async((), {}))

    assert outcome.exception is error
    assert async_outcome.exception is error
    assert "failure callback of" in caplog.text
    assert "RuntimeError" in caplog.text


# once and force_async ----------------------------------------------------------------------------


def test_once_defaults_to_false_and_is_kept() -> None:
    assert EventHandler(module_level_handler).once is False
    assert EventHandler(module_level_handler, once=True).once is True


def test_force_async_runs_a_sync_callback_in_another_thread() -> None:
    threads: list[int] = []
    handler = EventHandler(lambda: threads.append(threading.get_ident()), force_async=True)

    assert not handler.runs_inline
    outcome = asyncio.run(handler.run_async((), {}))

    assert outcome.ok
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


def test_force_async_through_an_emitter_runs_the_callback_in_another_thread(
    linker: type[EventLinker],
) -> None:
    threads: dict[str, int] = {}
    linker.on("A", force_async=True)(lambda: threads.setdefault("forced", threading.get_ident()))
    linker.on("A")(lambda: threads.setdefault("inline", threading.get_ident()))

    AsyncIOEventEmitter(linker=linker).emit("A")

    assert set(threads) == {"forced", "inline"}
    assert threads["forced"] != threading.get_ident()
    assert threads["inline"] == threading.get_ident()


def test_without_force_async_a_sync_callback_runs_on_the_calling_thread() -> None:
    threads: list[int] = []
    handler = EventHandler(lambda: threads.append(threading.get_ident()))

    handler.run_sync((), {})
    asyncio.run(handler.run_async((), {}))

    assert threads == [threading.get_ident(), threading.get_ident()]


# ref and importable ------------------------------------------------------------------------------


def test_ref_is_the_callbacks_module_and_qualname() -> None:
    assert EventHandler(module_level_handler).ref == (
        "tests.events_core.test_handler:module_level_handler"
    )
    assert EventHandler(Service().method).ref == "tests.events_core.test_handler:Service.method"
    assert EventHandler(Service.static).ref == "tests.events_core.test_handler:Service.static"
    assert EventHandler(pool_handlers.double).ref == "tests.events_core.pool_handlers:double"


def test_a_module_level_function_is_importable() -> None:
    assert EventHandler(module_level_handler).importable
    assert EventHandler(Service.static).importable
    assert EventHandler(module_level_async_handler).importable


def test_a_lambda_is_not_importable() -> None:
    handler = EventHandler(lambda: None)

    assert handler.ref.endswith("<lambda>")
    assert not handler.importable


def test_a_closure_is_not_importable() -> None:
    def inner() -> None:
        pass

    handler = EventHandler(inner)

    assert handler.ref == (
        "tests.events_core.test_handler:test_a_closure_is_not_importable.<locals>.inner"
    )
    assert not handler.importable


def test_a_function_defined_in_main_is_not_importable() -> None:
    def main_function() -> None:
        pass

    main_function.__module__ = "__main__"
    main_function.__qualname__ = "main_function"

    handler = EventHandler(main_function)

    assert handler.ref == "__main__:main_function"
    assert not handler.importable


def test_the_not_importable_error_names_the_handler() -> None:
    ref = EventHandler(lambda: None).ref

    error = HandlerNotImportableError(ref)

    assert error.ref == ref
    assert repr(ref) in str(error)
    assert isinstance(error, EventsError)
    assert isinstance(error, ValueError)


def test_a_non_importable_handler_still_runs_in_process(linker: type[EventLinker]) -> None:
    calls: list[str] = []
    linker.on("A")(lambda: calls.append("lambda"))

    AsyncIOEventEmitter(linker=linker).emit("A")

    assert calls == ["lambda"]


def test_a_callable_object_has_a_ref_from_its_class() -> None:
    class Callable:
        def __call__(self) -> None:
            pass

    ref = callable_ref(Callable())

    assert ref.endswith("<locals>.Callable")
    assert ref.startswith("tests.events_core.test_handler:")


@pytest.mark.parametrize(
    ("ref", "importable"),
    [
        ("package.module:function", True),
        ("package.module:Class.method", True),
        ("__main__:function", False),
        ("?:function", False),
        (":function", False),
        ("package.module:", False),
        ("package.module:<lambda>", False),
        ("package.module:outer.<locals>.inner", False),
    ],
)
def test_is_importable_ref_rejects_refs_a_worker_cannot_import(ref: str, importable: bool) -> None:
    assert is_importable_ref(ref) is importable


# options -----------------------------------------------------------------------------------------


def test_options_is_a_read_only_mapping() -> None:
    handler = EventHandler(module_level_handler, options={"retry": 3})

    assert isinstance(handler.options, MappingProxyType)
    assert dict(handler.options) == {"retry": 3}
    with pytest.raises(TypeError):
        handler.options["retry"] = 5  # type: ignore[index]
    with pytest.raises(AttributeError):
        handler.options = {}  # type: ignore[misc]
    assert dict(handler.options) == {"retry": 3}


def test_options_default_to_empty() -> None:
    assert dict(EventHandler(module_level_handler).options) == {}


def test_options_given_are_copied() -> None:
    given = {"retry": 3}
    handler = EventHandler(module_level_handler, options=given)

    given["retry"] = 99

    assert handler.options["retry"] == 3


def test_options_set_on_the_callback_before_subscription_are_merged(
    linker: type[EventLinker],
) -> None:
    def callback() -> None:
        pass

    setattr(callback, OPTIONS_ATTRIBUTE, {"retry": 3, "queue": "orders"})
    linker.on("A")(callback)

    (handler,) = linker.get_event_handlers("A")
    assert dict(handler.options) == {"retry": 3, "queue": "orders"}


def test_options_set_on_the_callback_after_subscription_are_merged(
    linker: type[EventLinker],
) -> None:
    def callback() -> None:
        pass

    handler = linker.subscribe("A", event_callback=callback)
    assert dict(handler.options) == {}

    setattr(callback, OPTIONS_ATTRIBUTE, {"retry": 5})

    assert dict(handler.options) == {"retry": 5}


def test_options_given_to_the_handler_win_over_those_on_the_callback() -> None:
    def callback() -> None:
        pass

    setattr(callback, OPTIONS_ATTRIBUTE, {"retry": 3, "queue": "orders"})
    handler = EventHandler(callback, options={"retry": 7})

    assert dict(handler.options) == {"retry": 7, "queue": "orders"}
    assert getattr(callback, OPTIONS_ATTRIBUTE) == {"retry": 3, "queue": "orders"}


def test_the_options_attribute_name_is_stable() -> None:
    assert OPTIONS_ATTRIBUTE == "__events_options__"


# validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [None, 42, "module:function", object()])
def test_a_non_callable_event_callback_raises(given: object) -> None:
    with pytest.raises(InvalidHandlerError, match="event_callback must be callable") as raised:
        EventHandler(given)  # type: ignore[arg-type]

    assert raised.value.role == "event_callback"
    assert raised.value.given is given


def test_non_callable_success_or_failure_callbacks_raise() -> None:
    with pytest.raises(InvalidHandlerError, match="success_callback must be callable"):
        EventHandler(module_level_handler, success_callback=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidHandlerError, match="failure_callback must be callable"):
        EventHandler(module_level_handler, failure_callback="x")  # type: ignore[arg-type]


def test_subscribing_a_non_callable_raises_and_registers_nothing(
    linker: type[EventLinker],
) -> None:
    with pytest.raises(InvalidHandlerError):
        linker.subscribe("A", event_callback=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidHandlerError):
        linker.subscribe("A", event_callback=print, failure_callback=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidHandlerError):
        linker.on("A")(42)  # type: ignore[type-var]
    with pytest.raises(InvalidHandlerError):
        linker.once("A")("not callable")  # type: ignore[type-var]

    assert linker.get_events() == []


def test_an_invalid_handler_error_is_also_a_type_error() -> None:
    with pytest.raises(TypeError):
        EventHandler(None)  # type: ignore[arg-type]


# misc --------------------------------------------------------------------------------------------


def test_repr_names_the_ref_and_flags() -> None:
    assert repr(EventHandler(module_level_handler)) == (
        "EventHandler(tests.events_core.test_handler:module_level_handler)"
    )
    assert repr(EventHandler(module_level_handler, once=True, force_async=True)) == (
        "EventHandler(tests.events_core.test_handler:module_level_handler, once=True, "
        "force_async=True)"
    )


def test_a_handler_of_a_module_level_function_pickles() -> None:
    handler = EventHandler(pool_handlers.double, once=True, force_async=True, options={"retry": 2})

    copy = pickle.loads(pickle.dumps(handler))  # noqa: S301 - our own bytes

    assert copy.event_callback is pool_handlers.double
    assert copy.ref == handler.ref
    assert copy.once
    assert copy.force_async
    assert dict(copy.options) == {"retry": 2}
    assert copy.run_sync((4,), {}).result == 8


def test_a_success_callback_that_takes_no_argument_is_called_without_the_result(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []

    def done() -> None:
        calls.append("done")

    async def done_async() -> None:
        calls.append("done_async")

    linker.subscribe("e", event_callback=lambda: 42, success_callback=done)
    linker.subscribe("e", event_callback=lambda: None, success_callback=done_async)

    emission = AsyncIOEventEmitter(linker=linker).emit("e")

    assert emission is not None
    assert calls == ["done", "done_async"]


def test_a_success_callback_with_a_parameter_still_gets_the_result(
    linker: type[EventLinker],
) -> None:
    results: list[object] = []
    linker.subscribe("e", event_callback=lambda: None, success_callback=results.append)
    linker.subscribe(
        "e", event_callback=lambda: 7, success_callback=lambda *got: results.extend(got)
    )

    AsyncIOEventEmitter(linker=linker).emit("e")

    assert results == [None, 7]
