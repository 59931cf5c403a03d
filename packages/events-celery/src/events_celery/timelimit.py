"""Handler time limits: past its limit a handler fails with `HandlerTimeoutError`.

```python
@EventLinker.on("report.requested")
@time_limit(30)
def build_report(report_id: int) -> None: ...
```

The limit is `events_handler_time_limit` unless the handler's options say otherwise (the
`time_limit` decorator, or `options={"time_limit": 30}`). An async handler is cancelled at its
limit (`asyncio.wait_for`). A sync handler is interrupted by `SIGALRM` (`signal.setitimer`)
when it runs in the main thread of its process, as with the prefork and solo pools; in another
thread (the threads pool, `force_async`) nothing can interrupt it, and only Celery's
`task_time_limit` bounds it.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from events_celery.errors import HandlerTimeoutError
from events_celery.settings import positive_seconds
from events_core.handler import EventHandler, store_option

F = TypeVar("F", bound=Callable[..., Any])

TIME_LIMIT_OPTION = "time_limit"
"""Key of a handler's options (`EventHandler.options`) that holds its time limit in seconds."""

_MAX_CACHED = 4096
_limited: dict[tuple[EventHandler, float], EventHandler] = {}


def time_limit(seconds: float) -> Callable[[F], F]:
    """Give a handler its own time limit in seconds; the function is returned unchanged.

    Raises:
        ConfigurationError: `seconds` is not a positive number.
    """
    checked = _seconds(seconds)

    def decorator(func: F) -> F:
        store_option(func, TIME_LIMIT_OPTION, checked, decorator="time_limit")
        return func

    return decorator


def limit_of(handler: EventHandler, default: float) -> float:
    """A handler's time limit: its `time_limit` option, else `default`."""
    own = handler.options.get(TIME_LIMIT_OPTION)
    return default if own is None else _seconds(own)


def limited(handlers: tuple[EventHandler, ...], default: float) -> tuple[EventHandler, ...]:
    """The handlers, each running under its time limit (same refs, options and callbacks)."""
    return tuple(_limited_handler(handler, limit_of(handler, default)) for handler in handlers)


def _limited_handler(handler: EventHandler, seconds: float) -> EventHandler:
    key = (handler, seconds)
    found = _limited.get(key)
    if found is None:
        if len(_limited) >= _MAX_CACHED:
            _limited.clear()
        found = _limited[key] = _wrap(handler, seconds)
    return found


def _wrap(handler: EventHandler, seconds: float) -> EventHandler:
    callback = handler.event_callback
    ref = handler.ref
    run: Callable[..., Any]
    if handler.is_async:

        @functools.wraps(callback)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await asyncio.wait_for(callback(*args, **kwargs), seconds)
            except asyncio.TimeoutError:
                raise HandlerTimeoutError(ref, seconds) from None

        run = run_async
    else:

        @functools.wraps(callback)
        def run_sync(*args: Any, **kwargs: Any) -> Any:
            with _alarm(ref, seconds):
                return callback(*args, **kwargs)

        run = run_sync
    wrapped = EventHandler(
        run,
        handler.success_callback,
        handler.failure_callback,
        once=handler.once,
        force_async=handler.force_async,
        options=handler.options,
    )
    # functools.wraps cannot name the wrapper after a callable object (it has no __qualname__):
    # the handler keeps its own ref whatever its callback is.
    wrapped.ref = ref
    wrapped.sequence = handler.sequence
    wrapped.keys = handler.keys
    return wrapped


@contextmanager
def _alarm(ref: str, seconds: float) -> Iterator[None]:
    """Raise `HandlerTimeoutError` in this thread after `seconds`, where signals allow it.

    A timer already running (pytest-timeout's, say) is kept when it fires first, and
    otherwise set again, with what was left of it, once the handler returns.
    """
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    outer = signal.getitimer(signal.ITIMER_REAL)[0]
    if 0 < outer <= seconds:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise HandlerTimeoutError(ref, seconds)

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


def _seconds(value: Any) -> float:
    return positive_seconds("time_limit", value)
