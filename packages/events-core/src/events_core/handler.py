"""`EventHandler`: a callback and its optional success and failure callbacks."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from time import perf_counter
from types import MappingProxyType
from typing import Any

from events_core.callables import callable_ref, is_async_callable, is_importable_ref
from events_core.errors import InvalidHandlerError
from events_core.report import HandlerOutcome

logger = logging.getLogger(__name__)

OPTIONS_ATTRIBUTE = "__events_options__"
"""Attribute of a callback where add-ons (such as a retry decorator) store handler options."""


class EventHandler:
    """A subscribed callback with its optional callbacks and options.

    Args:
        event_callback: the function to run for each event; sync or async.
        success_callback: called with the callback's result when it returns.
        failure_callback: called with the exception when the callback raises.
        once: remove the handler after its first emission is scheduled.
        force_async: run a sync callback in a thread instead of inline (in `arun`).
        options: read-only options for backends and add-ons.
    """

    __slots__ = (
        "_options",
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
        self.runs_inline = not (
            self.is_async
            or force_async
            or is_async_callable(success_callback)
            or is_async_callable(failure_callback)
        )
        """Whether `run_sync` can run this handler and its callbacks without an event loop."""
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

    def failed_quietly(self, exc: Exception) -> None:
        """Hand a sync callback's exception to the failure callback and the log."""
        self._on_failure_sync(exc)
        logger.error("handler %s failed: %s", self.ref, type(exc).__name__)

    def succeeded_quietly(self, result: Any) -> bool:
        """Call the success callback with `result`; return False (and log) if it raises."""
        assert self.success_callback is not None
        try:
            self.success_callback(result)
        except Exception as exc:
            logger.error("success callback of %s raised %s", self.ref, type(exc).__name__)
            return False
        return True

    def run_sync(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> HandlerOutcome:
        """Run a sync callback and its callbacks inline; never raises for handler errors."""
        started = perf_counter()
        try:
            result = self.event_callback(*args, **kwargs)
        except Exception as exc:
            self._on_failure_sync(exc)
            return HandlerOutcome(self.ref, False, None, exc, perf_counter() - started)
        if self.success_callback is not None:
            try:
                done = self.success_callback(result)
                if inspect.isawaitable(done):
                    _run_awaitable(done)
            except Exception as exc:
                logger.error("success callback of %s raised %s", self.ref, type(exc).__name__)
                return HandlerOutcome(self.ref, False, None, exc, perf_counter() - started)
        return HandlerOutcome(self.ref, True, result, None, perf_counter() - started)

    async def run_async(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> HandlerOutcome:
        """Run the callback (awaited, or in a thread if `force_async`) and its callbacks."""
        started = perf_counter()
        try:
            if self.is_async:
                result = await self.event_callback(*args, **kwargs)
            elif self.force_async:
                result = await asyncio.to_thread(self.event_callback, *args, **kwargs)
            else:
                result = self.event_callback(*args, **kwargs)
        except Exception as exc:
            await self._on_failure_async(exc)
            return HandlerOutcome(self.ref, False, None, exc, perf_counter() - started)
        if self.success_callback is not None:
            try:
                done = self.success_callback(result)
                if inspect.isawaitable(done):
                    await done
            except Exception as exc:
                logger.error("success callback of %s raised %s", self.ref, type(exc).__name__)
                return HandlerOutcome(self.ref, False, None, exc, perf_counter() - started)
        return HandlerOutcome(self.ref, True, result, None, perf_counter() - started)

    def _on_failure_sync(self, exc: Exception) -> None:
        if self.failure_callback is None:
            return
        try:
            done = self.failure_callback(exc)
            if inspect.isawaitable(done):
                _run_awaitable(done)
        except Exception as callback_exc:
            logger.error("failure callback of %s raised %s", self.ref, type(callback_exc).__name__)

    async def _on_failure_async(self, exc: Exception) -> None:
        if self.failure_callback is None:
            return
        try:
            done = self.failure_callback(exc)
            if inspect.isawaitable(done):
                await done
        except Exception as callback_exc:
            logger.error("failure callback of %s raised %s", self.ref, type(callback_exc).__name__)


def _run_awaitable(awaitable: Any) -> None:
    async def wait() -> None:
        await awaitable

    asyncio.run(wait())
