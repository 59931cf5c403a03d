"""`AsyncIOEventEmitter`: runs handlers with asyncio, in or outside a running loop."""

from __future__ import annotations

import asyncio
from asyncio import _get_running_loop

from events_core.emission import EventEmission
from events_core.emitter import EventEmitter, log_failures
from events_core.registry import EventLinker
from events_core.report import EmissionReport


class AsyncIOEventEmitter(EventEmitter):
    """Runs handlers with asyncio.

    In a running loop, `emit` does not block: the emission runs on the loop's next
    iteration (a task when any handler is async). Outside a loop, `emit` blocks until
    every handler has run: sync handlers run inline with no loop at all; if any handler is
    async, a new loop runs the emission to completion.

    Handler errors never propagate from `emit`: each goes to its handler's
    `failure_callback` and is logged.

    Args:
        linker: the registry to resolve handlers from (default `EventLinker`).
    """

    def __init__(self, *, linker: type[EventLinker] = EventLinker) -> None:
        super().__init__(linker=linker)
        self._tasks: set[asyncio.Task[EmissionReport]] = set()

    def dispatch(self, emission: EventEmission) -> None:
        """Run `emission` now outside a loop, else from the running loop (see the class)."""
        loop = _get_running_loop()
        if emission.runs_inline:
            if loop is None:
                emission.run_quietly()
            else:
                loop.call_soon(emission.run_quietly)
            return
        if loop is None:
            log_failures(asyncio.run(emission.arun()))
            return
        task = loop.create_task(emission.arun())
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[EmissionReport]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is None:
            log_failures(task.result())

    async def wait(self) -> None:
        """Wait until every emission scheduled in the running loop has run."""
        await asyncio.sleep(0)
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
