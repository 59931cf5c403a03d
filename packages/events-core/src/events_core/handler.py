"""`EventHandler`: a callback and its optional success and failure callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from inspect import isawaitable
from time import perf_counter
from types import MappingProxyType
from typing import Any

from events_core.callables import (
    callable_ref,
    is_async_callable,
    is_importable_ref,
    takes_an_argument,
)
from events_core.errors import (
    CallbackReturnedAwaitableError,
    ConfigurationError,
    InvalidHandlerError,
)
from events_core.report import HandlerOutcome

logger = logging.getLogger(__name__)

OPTIONS_ATTRIBUTE = "__events_options__"
"""Attribute of a callback where add-ons (such as a retry decorator) store handler options."""


def store_option(func: Callable[..., Any], name: str, value: Any, *, decorator: str) -> None:
    """Set handler option `name` on a callback, as decorators stacked on `EventLinker.on` do.

    Raises:
        ConfigurationError: the callback cannot hold attributes (a builtin, say), naming the
            `decorator`.
    """
    # Copy on write: functools.wraps shares a wrapped function's __dict__ values, so the dict
    # found here may belong to another function as well.
    options = dict(getattr(func, OPTIONS_ATTRIBUTE, None) or {})
    options[name] = value
    try:
        setattr(func, OPTIONS_ATTRIBUTE, options)
    except (AttributeError, TypeError) as exc:
        raise ConfigurationError(
            decorator, f"cannot store an option on {func!r}: decorate a function"
        ) from exc


class EventHandler:
    """A subscribed callback with its optional callbacks and options.

    Args:
        event_callback: the function to run for each event; sync or async (as
            `is_async_callable` tells, once, here).
        success_callback: called with the callback's result when it returns (with no argument
            when it takes none, as Pyventus does); sync or async.
        failure_callback: called with the exception when the callback raises; sync or async.
        once: remove the handler after its first emission is scheduled.
        force_async: run a sync callback in a thread instead of inline (in `arun`).
        options: read-only options for backends and add-ons.
    """

    __slots__ = (
        "_failure_is_async",
        "_options",
        "_success_is_async",
        "_success_takes_result",
        "event_callback",
        "failure_callback",
        "force_async",
        "is_async",
        "keys",
        "once",
        "ref",
        "runs_inline",
        "sequence",
        "success_callback",
    )

    def __init__(
        self,
        event_callback: Callable[..., Any],
        success_callback: Callable[[Any], Any] | None = None,
        failure_callback: Callable[[BaseException], Any] | None = None,
        *,
        once: bool = False,
        force_async: bool = False,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(event_callback):
            raise InvalidHandlerError("event_callback", event_callback)
        if success_callback is not None and not callable(success_callback):
            raise InvalidHandlerError("success_callback", success_callback)
        if failure_callback is not None and not callable(failure_callback):
            raise InvalidHandlerError("failure_callback", failure_callback)
        self.event_callback = event_callback
        self.success_callback = success_callback
        self.failure_callback = failure_callback
        self.once = once
        self.force_async = force_async
        self.is_async = is_async_callable(event_callback)
        """Whether the event callback is async (awaited wherever the emission runs)."""
        self._success_is_async = is_async_callable(success_callback)
        self._success_takes_result = success_callback is None or takes_an_argument(
            success_callback
        )
        self._failure_is_async = is_async_callable(failure_callback)
        self.runs_inline = not (
            self.is_async or force_async or self._success_is_async or self._failure_is_async
        )
        """Whether the handler and its callbacks run on the calling thread with no event loop."""
        self.ref = callable_ref(event_callback)
        self.sequence = 0
        self.keys: tuple[Any, ...] = ()
        self._options = dict(options or {})

    @property
    def options(self) -> Mapping[str, Any]:
        """Read-only options: those given here over those set on the callback by decorators."""
        merged = dict(getattr(self.event_callback, OPTIONS_ATTRIBUTE, None) or {})
        merged.update(self._options)
        return MappingProxyType(merged)

    @property
    def importable(self) -> bool:
        """Whether a worker could import this handler's callback by its `ref`."""
        return is_importable_ref(self.ref)

    def is_equivalent(self, other: EventHandler) -> bool:
        """Whether `other` runs the same callbacks with the same flags and options.

        An unpickled copy of a handler is equivalent to its original.
        """
        return (
            self.event_callback == other.event_callback
            and self.success_callback == other.success_callback
            and self.failure_callback == other.failure_callback
            and self.once == other.once
            and self.force_async == other.force_async
            and self._options == other._options
        )

    def __repr__(self) -> str:
        flags = "".join(
            f", {name}=True" for name in ("once", "force_async") if getattr(self, name)
        )
        return f"EventHandler({self.ref}{flags})"

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def run_sync(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> HandlerOutcome:
        """Run the handler and its callbacks to the end; never raises for handler errors.

        A handler that `runs_inline` runs on the calling thread with no event loop. Any other
        runs through `run_async` in a new event loop, so not from a running loop.
        """
        if not self.runs_inline:
            return asyncio.run(self.run_async(args, kwargs))
        started = perf_counter()
        ok, value = self.run_inline(args, kwargs)
        if ok:
            return HandlerOutcome(self.ref, True, value, None, perf_counter() - started)
        return HandlerOutcome(self.ref, False, None, value, perf_counter() - started)

    def run_inline(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[bool, Any]:
        """Run a handler that `runs_inline`, with no timing and no outcome object.

        Returns:
            `(True, result)` when the callback and its success callback returned, else
            `(False, exception)`; handler errors are never raised.
        """
        try:
            # `**kwargs` copies a read-only mapping into a new dict: skip it when empty.
            result = self.event_callback(*args, **kwargs) if kwargs else self.event_callback(*args)
            if result is not None and isawaitable(result):
                raise _refuse("event_callback", self.event_callback, result)
        except Exception as exc:
            return False, self._failed_inline(exc)
        if self.success_callback is None:  # the common case, without one more call
            return True, result
        return self._succeeded_inline(result)

    async def run_async(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> HandlerOutcome:
        """Run the handler in the running loop; never raises for handler errors.

        Async callbacks are awaited, a `force_async` callback runs in a thread, and sync ones
        run inline, exactly as `run_sync` runs them.
        """
        if self.runs_inline:
            return self.run_sync(args, kwargs)
        started = perf_counter()
        try:
            if self.is_async:
                result = await self.event_callback(*args, **kwargs)
            else:
                if self.force_async:
                    result = await asyncio.to_thread(self.event_callback, *args, **kwargs)
                else:
                    result = self.event_callback(*args, **kwargs)
                if result is not None and isawaitable(result):
                    raise _refuse("event_callback", self.event_callback, result)
        except Exception as exc:
            error = await self._failed(exc)
            return HandlerOutcome(self.ref, False, None, error, perf_counter() - started)
        ok, value = await self._succeeded(result)
        if ok:
            return HandlerOutcome(self.ref, True, value, None, perf_counter() - started)
        return HandlerOutcome(self.ref, False, None, value, perf_counter() - started)

    def _succeeded_inline(self, result: Any) -> tuple[bool, Any]:
        callback: Callable[..., Any] | None = self.success_callback
        if callback is None:
            return True, result
        try:
            done = callback(result) if self._success_takes_result else callback()
            if done is not None and isawaitable(done):
                raise _refuse("success_callback", callback, done)
        except Exception as exc:
            logger.error("success callback of %s raised %s", self.ref, type(exc).__name__)
            return False, exc
        return True, result

    async def _succeeded(self, result: Any) -> tuple[bool, Any]:
        callback: Callable[..., Any] | None = self.success_callback
        if callback is None or not self._success_is_async:
            return self._succeeded_inline(result)
        try:
            await (callback(result) if self._success_takes_result else callback())
        except Exception as exc:
            logger.error("success callback of %s raised %s", self.ref, type(exc).__name__)
            return False, exc
        return True, result

    def _failed_inline(self, exc: Exception) -> Exception:
        """Hand `exc` to a sync failure callback; return what the outcome reports."""
        callback = self.failure_callback
        if callback is None:
            return exc
        try:
            done = callback(exc)
        except Exception as callback_exc:
            logger.error("failure callback of %s raised %s", self.ref, type(callback_exc).__name__)
            return exc
        if done is not None and isawaitable(done):
            refused = _refuse("failure_callback", callback, done)
            refused.__cause__ = exc
            return refused
        return exc

    async def _failed(self, exc: Exception) -> Exception:
        callback = self.failure_callback
        if callback is None or not self._failure_is_async:
            return self._failed_inline(exc)
        try:
            await callback(exc)
        except Exception as callback_exc:
            logger.error("failure callback of %s raised %s", self.ref, type(callback_exc).__name__)
        return exc


def _refuse(
    role: str, callback: Callable[..., Any], awaitable: Any
) -> CallbackReturnedAwaitableError:
    """Close what a sync callback returned, unawaited, and make the error reporting it."""
    close = getattr(awaitable, "close", None)
    if callable(close):
        # The refusal is what gets reported, whatever closing it does.
        with contextlib.suppress(Exception):
            close()
    return CallbackReturnedAwaitableError(role, callable_ref(callback))
