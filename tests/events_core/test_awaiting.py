"""Async callables are awaited, a sync callback's awaitable refused, wherever a handler runs.

Every test runs the same emission through each in-process way of running it: the asyncio
emitter outside and inside a running loop, the executor emitter, `emission.run()` and
`emission.arun()`.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import pickle
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from events_core import (
    AsyncIOEventEmitter,
    CallbackReturnedAwaitableError,
    EmissionReport,
    EventLinker,
    EventsError,
    ExecutorEventEmitter,
)
from events_core.testing import RecordingEventEmitter

Run = Callable[[type[EventLinker]], "EmissionReport | None"]
"""Emit `"A"` with the argument 1 from a linker and wait until its handlers ran."""


class Boom(Exception):
    pass


class Recorder:
    """An object whose `__call__` is `async def`: records what it got, then may raise."""

    def __init__(self, seen: list[Any], label: str, error: Exception | None = None) -> None:
        self.seen = seen
        self.label = label
        self.error = error

    async def __call__(self, value: Any) -> str:
        await asyncio.sleep(0)
        self.seen.append((self.label, value))
        if self.error is not None:
            raise self.error
        return f"{self.label} done"


async def record(seen: list[Any], label: str, error: Exception | None, value: Any) -> str:
    await asyncio.sleep(0)
    seen.append((label, value))
    if error is not None:
        raise error
    return f"{label} done"


def partial_of(seen: list[Any], label: str, error: Exception | None = None) -> Any:
    """A `functools.partial` (nested) of an async function."""
    return functools.partial(functools.partial(record, seen), label, error)


MAKERS = {"async __call__": Recorder, "partial of an async function": partial_of}


@pytest.fixture(params=sorted(MAKERS))
def make(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Makes an async callable of one kind: `make(seen, label, error=None)`."""
    return MAKERS[request.param]


def asyncio_outside_a_loop(linker: type[EventLinker]) -> None:
    AsyncIOEventEmitter(linker=linker).emit("A", 1)


def asyncio_in_a_loop(linker: type[EventLinker]) -> None:
    async def main() -> None:
        emitter = AsyncIOEventEmitter(linker=linker)
        emitter.emit("A", 1)
        await emitter.wait()

    asyncio.run(main())


def executor(linker: type[EventLinker]) -> None:
    with ExecutorEventEmitter(linker=linker) as emitter:
        emitter.emit("A", 1)


def emission_run(linker: type[EventLinker]) -> EmissionReport:
    emission = RecordingEventEmitter(linker=linker).emit("A", 1)
    assert emission is not None
    return emission.run()


def emission_arun(linker: type[EventLinker]) -> EmissionReport:
    emission = RecordingEventEmitter(linker=linker).emit("A", 1)
    assert emission is not None
    return asyncio.run(emission.arun())


RUNS: dict[str, Run] = {
    "asyncio outside a loop": asyncio_outside_a_loop,
    "asyncio in a loop": asyncio_in_a_loop,
    "executor": executor,
    "emission.run": emission_run,
    "emission.arun": emission_arun,
}


@pytest.fixture(params=list(RUNS))
def run(request: pytest.FixtureRequest) -> Run:
    return RUNS[request.param]


@pytest.fixture(autouse=True)
def _no_coroutine_is_left_unawaited() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    assert [str(warning.message) for warning in caught if warning.category is RuntimeWarning] == []


def failed_with(
    report: EmissionReport | None, caplog: pytest.LogCaptureFixture, error: type[BaseException]
) -> bool:
    """Whether the one handler failed with `error`: from the report, else from the log."""
    if report is None:
        return error.__name__ in caplog.text
    (outcome,) = report.outcomes
    return not outcome.ok and isinstance(outcome.exception, error)


# async callables are awaited ---------------------------------------------------------------------


def test_an_async_callable_event_callback_and_success_callback_are_awaited(
    linker: type[EventLinker], run: Run, make: Callable[..., Any]
) -> None:
    seen: list[Any] = []
    linker.subscribe("A", event_callback=make(seen, "handler"), success_callback=make(seen, "ok"))

    report = run(linker)

    assert seen == [("handler", 1), ("ok", "handler done")]
    if report is not None:
        assert report.ok
        assert report.outcomes[0].result == "handler done"


def test_an_async_callable_failure_callback_is_awaited_with_the_error(
    linker: type[EventLinker], run: Run, make: Callable[..., Any]
) -> None:
    seen: list[Any] = []
    error = Boom("handler")
    linker.subscribe(
        "A",
        event_callback=make(seen, "handler", error),
        success_callback=make(seen, "ok"),
        failure_callback=make(seen, "failed"),
    )

    report = run(linker)

    assert seen == [("handler", 1), ("failed", error)]
    if report is not None:
        assert report.outcomes[0].exception is error


def test_a_raising_async_callable_success_callback_makes_the_outcome_a_failure(
    linker: type[EventLinker],
    run: Run,
    make: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Any] = []
    linker.subscribe(
        "A", event_callback=make(seen, "handler"), success_callback=make(seen, "ok", Boom("ok"))
    )

    report = run(linker)

    assert seen == [("handler", 1), ("ok", "handler done")]
    assert failed_with(report, caplog, Boom)


def test_a_sync_handler_with_async_callable_callbacks_runs_on_the_same_path(
    linker: type[EventLinker], run: Run, make: Callable[..., Any]
) -> None:
    seen: list[Any] = []
    error = Boom("sync")

    def failing(value: int) -> None:
        raise error

    linker.subscribe("A", event_callback=failing, failure_callback=make(seen, "failed"))

    report = run(linker)

    assert seen == [("failed", error)]
    if report is not None:
        assert report.outcomes[0].exception is error


# a sync callback returning an awaitable is refused -----------------------------------------------


def returns_a_coroutine(seen: list[Any], label: str) -> Callable[[Any], Any]:
    """A sync function that returns a coroutine (of an async function) instead of awaiting it."""

    def callback(value: Any) -> Any:
        return record(seen, label, None, value)

    return callback


def test_a_sync_event_callback_returning_a_coroutine_fails_and_the_coroutine_never_runs(
    linker: type[EventLinker], run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    failures: list[BaseException] = []
    linker.subscribe(
        "A",
        event_callback=returns_a_coroutine(seen, "handler"),
        success_callback=seen.append,
        failure_callback=failures.append,
    )

    report = run(linker)

    assert seen == []
    assert [type(failure) for failure in failures] == [CallbackReturnedAwaitableError]
    assert failures[0].role == "event_callback"  # type: ignore[attr-defined]
    assert "returns_a_coroutine.<locals>.callback" in str(failures[0])
    assert failed_with(report, caplog, CallbackReturnedAwaitableError)


def test_a_sync_success_callback_returning_a_coroutine_makes_the_outcome_a_failure(
    linker: type[EventLinker], run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    linker.subscribe(
        "A", event_callback=lambda value: value, success_callback=returns_a_coroutine(seen, "ok")
    )

    report = run(linker)

    assert seen == []
    assert failed_with(report, caplog, CallbackReturnedAwaitableError)


def test_a_sync_failure_callback_returning_a_coroutine_is_reported_with_the_cause(
    linker: type[EventLinker], run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    error = Boom("handler")

    def failing(value: int) -> None:
        raise error

    linker.subscribe("A", event_callback=failing, failure_callback=returns_a_coroutine(seen, "x"))

    report = run(linker)

    assert seen == []
    assert failed_with(report, caplog, CallbackReturnedAwaitableError)
    if report is not None:
        assert report.outcomes[0].exception.__cause__ is error  # type: ignore[union-attr]


def test_an_async_handler_with_a_sync_success_callback_returning_a_coroutine_fails(
    linker: type[EventLinker], run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    linker.subscribe(
        "A",
        event_callback=Recorder(seen, "handler"),
        success_callback=returns_a_coroutine(seen, "x"),
    )

    report = run(linker)

    assert seen == [("handler", 1)]
    assert failed_with(report, caplog, CallbackReturnedAwaitableError)


def test_a_force_async_callback_returning_a_coroutine_fails(
    linker: type[EventLinker], run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    linker.subscribe("A", event_callback=returns_a_coroutine(seen, "handler"), force_async=True)

    report = run(linker)

    assert seen == []
    assert failed_with(report, caplog, CallbackReturnedAwaitableError)


def test_the_refusal_error_names_the_callback_and_the_fix() -> None:
    error = CallbackReturnedAwaitableError("success_callback", "shop.handlers:on_done")

    assert isinstance(error, EventsError)
    assert isinstance(error, TypeError)
    assert error.role == "success_callback"
    assert error.ref == "shop.handlers:on_done"
    assert "success_callback shop.handlers:on_done" in str(error)
    assert "async def" in str(error)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (type(copy), copy.role, copy.ref, str(copy)) == (
        type(error),
        error.role,
        error.ref,
        str(error),
    )
