from __future__ import annotations

import asyncio
import signal
import threading
import time

import pytest

from events_celery import time_limit
from events_celery.errors import ConfigurationError, HandlerTimeoutError
from events_celery.timelimit import TIME_LIMIT_OPTION, limit_of, limited
from events_core import EventHandler


def sleeps(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


async def sleeps_async(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@time_limit(0.2)
def own_limit() -> None: ...


def test_a_sync_handler_past_its_limit_fails_with_handler_timeout_error() -> None:
    [handler] = limited((EventHandler(sleeps),), 0.2)
    started = time.monotonic()

    outcome = handler.run_sync((5.0,), {})

    assert isinstance(outcome.exception, HandlerTimeoutError)
    assert outcome.handler == EventHandler(sleeps).ref
    assert time.monotonic() - started < 2.0


def test_a_sync_handler_within_its_limit_returns_and_puts_back_the_outer_timer() -> None:
    outer = signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 60.0)
    try:
        [handler] = limited((EventHandler(sleeps),), 5.0)

        assert handler.run_sync((0.01,), {}).result == "done"
        assert 50.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 60.0
        assert signal.getsignal(signal.SIGALRM) is signal.SIG_IGN
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer)


def test_an_async_handler_past_its_limit_fails_with_handler_timeout_error() -> None:
    [handler] = limited((EventHandler(sleeps_async),), 0.1)

    outcome = asyncio.run(handler.run_async((5.0,), {}))

    assert handler.is_async
    assert isinstance(outcome.exception, HandlerTimeoutError)


def test_outside_the_main_thread_a_sync_handler_is_not_interrupted() -> None:
    [handler] = limited((EventHandler(sleeps),), 0.05)
    outcomes = []
    thread = threading.Thread(target=lambda: outcomes.append(handler.run_sync((0.2,), {})))

    thread.start()
    thread.join()

    assert outcomes[0].result == "done"


def test_a_handler_option_overrides_the_default_limit() -> None:
    assert limit_of(EventHandler(own_limit), 300.0) == 0.2
    assert limit_of(EventHandler(sleeps, options={TIME_LIMIT_OPTION: 7}), 300.0) == 7.0
    assert limit_of(EventHandler(sleeps), 300.0) == 300.0


def test_a_limited_handler_keeps_ref_options_and_callbacks() -> None:
    original = EventHandler(own_limit, failure_callback=print)

    [handler] = limited((original,), 300.0)

    assert handler.ref == original.ref
    assert handler.options == original.options
    assert handler.failure_callback is print
    assert limited((original,), 300.0)[0] is handler  # made once


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), True, "5"])
def test_time_limit_refuses_what_is_not_a_positive_number(seconds: object) -> None:
    with pytest.raises(ConfigurationError, match="time_limit"):
        time_limit(seconds)  # type: ignore[arg-type]


class AsyncCallable:
    """An object whose `__call__` is a coroutine function, as a handler."""

    async def __call__(self) -> str:
        return "called"


async_callable = AsyncCallable()


def test_a_callable_object_under_its_limit_keeps_its_ref_and_is_awaited() -> None:
    original = EventHandler(async_callable)

    [handler] = limited((original,), 5.0)
    outcome = asyncio.run(handler.run_async((), {}))

    assert handler.ref == original.ref == f"{__name__}:async_callable"
    assert (outcome.handler, outcome.ok, outcome.result) == (original.ref, True, "called")
