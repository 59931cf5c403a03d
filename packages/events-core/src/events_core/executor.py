"""`ExecutorEventEmitter`: runs emissions in a thread or process pool."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as _wait
from types import TracebackType

from events_core.emission import EventEmission
from events_core.emitter import EventEmitter, log_failures
from events_core.registry import EventLinker
from events_core.report import EmissionReport

logger = logging.getLogger(__name__)


class ExecutorEventEmitter(EventEmitter):
    """Runs each emission in a pool; `emit` does not block.

    Handler errors never propagate from `emit`: each goes to its handler's
    `failure_callback` and is logged. A process pool needs handlers and payloads that
    pickle. Use it as a context manager, or call `shutdown()`, to wait for the pool.

    Args:
        executor: the pool to use; it stays the caller's to shut down. Without one the
            emitter makes and owns a pool.
        max_workers: size of the pool the emitter makes.
        processes: make a process pool instead of a thread pool.
        linker: the registry to resolve handlers from (default `EventLinker`).
    """

    def __init__(
        self,
        executor: Executor | None = None,
        *,
        max_workers: int | None = None,
        processes: bool = False,
        linker: type[EventLinker] = EventLinker,
    ) -> None:
        super().__init__(linker=linker)
        self._owns_executor = executor is None
        if executor is None:
            executor = (
                ProcessPoolExecutor(max_workers) if processes else ThreadPoolExecutor(max_workers)
            )
        self.executor = executor
        self._pending: set[Future[EmissionReport]] = set()
        """Emissions scheduled on a given executor, which `shutdown` waits for."""

    def dispatch(self, emission: EventEmission) -> None:
        """Submit `emission.run` to the pool; failures in its report are logged."""
        future = self.executor.submit(emission.run)
        if not self._owns_executor:
            self._pending.add(future)
            future.add_done_callback(self._pending.discard)
        future.add_done_callback(_log_report)

    def shutdown(self, wait: bool = True) -> None:
        """Wait for scheduled emissions (if `wait`) and shut down a pool this emitter owns."""
        if self._owns_executor:
            self.executor.shutdown(wait=wait)
        elif wait:
            _wait(tuple(self._pending))

    def __enter__(self) -> ExecutorEventEmitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown(wait=True)


def _log_report(future: Future[EmissionReport]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:  # e.g. a payload a process pool cannot pickle: never silently lost
        logger.error("an emission could not run in the executor: %s", type(error).__name__)
        return
    log_failures(future.result())
