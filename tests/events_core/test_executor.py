"""`ExecutorEventEmitter`: emissions run in a thread or process pool."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from events_core import EventLinker, ExecutorEventEmitter
from tests.events_core import pool_handlers


class Boom(Exception):
    pass


def test_handlers_run_on_a_pool_thread(linker: type[EventLinker]) -> None:
    threads: list[int] = []
    linker.on("A")(lambda: threads.append(threading.get_ident()))

    with ExecutorEventEmitter(linker=linker) as emitter:
        emission = emitter.emit("A")

    assert emission is not None
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


def test_emit_does_not_wait_for_the_handlers(linker: type[EventLinker]) -> None:
    release = threading.Event()
    finished = threading.Event()

    @linker.on("A")
    def handler() -> None:
        assert release.wait(timeout=10)
        finished.set()

    with ExecutorEventEmitter(max_workers=1, linker=linker) as emitter:
        emitter.emit("A")
        assert not finished.is_set()  # emit returned while the handler is blocked
        release.set()

    assert finished.is_set()


def subscribe_blocking_handler(
    linker: type[EventLinker],
) -> tuple[threading.Event, threading.Event, list[int]]:
    """Subscribe to "A" a handler that signals `started`, waits for `release`, then records."""
    started = threading.Event()
    release = threading.Event()
    finished: list[int] = []

    @linker.on("A")
    def handler(value: int) -> None:
        started.set()
        assert release.wait(timeout=10)
        finished.append(value)

    return started, release, finished


def test_the_context_manager_waits_for_scheduled_emissions(linker: type[EventLinker]) -> None:
    started, release, finished = subscribe_blocking_handler(linker)

    with ExecutorEventEmitter(max_workers=2, linker=linker) as emitter:
        for value in range(5):
            emitter.emit("A", value)
        assert started.wait(timeout=10)
        # Released only after the block starts exiting, so __exit__ must wait to see them.
        threading.Timer(0.05, release.set).start()

    assert sorted(finished) == [0, 1, 2, 3, 4]


def test_shutdown_waits_and_the_pool_refuses_new_emissions(linker: type[EventLinker]) -> None:
    finished: list[int] = []
    linker.on("A")(finished.append)
    emitter = ExecutorEventEmitter(max_workers=1, linker=linker)
    emitter.emit("A", 1)

    emitter.shutdown()

    assert finished == [1]
    with pytest.raises(RuntimeError):
        emitter.emit("A", 2)


def test_async_handlers_run_in_the_pool(linker: type[EventLinker]) -> None:
    threads: list[int] = []

    @linker.on("A")
    async def handler() -> None:
        threads.append(threading.get_ident())

    with ExecutorEventEmitter(linker=linker) as emitter:
        emitter.emit("A")

    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


def test_handler_errors_never_propagate_from_emit(
    linker: type[EventLinker], caplog: pytest.LogCaptureFixture
) -> None:
    error = Boom("in pool")
    failures: list[BaseException] = []
    calls: list[str] = []

    def failing() -> None:
        raise error

    linker.subscribe("A", event_callback=failing, failure_callback=failures.append)
    linker.on("A")(lambda: calls.append("next"))

    with ExecutorEventEmitter(linker=linker) as emitter:
        assert emitter.emit("A") is not None

    assert failures == [error]
    assert calls == ["next"]
    assert "Boom" in caplog.text
    assert "failing" in caplog.text


def test_emit_returns_none_without_handlers(linker: type[EventLinker]) -> None:
    with ExecutorEventEmitter(linker=linker) as emitter:
        assert emitter.emit("A") is None


def test_once_handlers_run_once_through_the_pool(linker: type[EventLinker]) -> None:
    calls: list[int] = []
    linker.once("A")(calls.append)

    with ExecutorEventEmitter(linker=linker) as emitter:
        emitter.emit("A", 1)
        assert emitter.emit("A", 2) is None

    assert calls == [1]


# a given executor --------------------------------------------------------------------------------


def test_a_given_executor_is_used_and_not_shut_down(linker: type[EventLinker]) -> None:
    threads: list[str] = []
    linker.on("A")(lambda: threads.append(threading.current_thread().name))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="given-pool") as pool:
        with ExecutorEventEmitter(pool, linker=linker) as emitter:
            assert emitter.executor is pool
            emitter.emit("A")
        emitter.shutdown()

        assert pool.submit(lambda: "still open").result(timeout=10) == "still open"
        emitter.emit("A")
        pool.submit(lambda: None).result(timeout=10)  # the pool has a single thread: in order

    assert len(threads) == 2
    assert all(name.startswith("given-pool") for name in threads)


def test_the_context_manager_waits_for_emissions_on_a_given_executor(
    linker: type[EventLinker],
) -> None:
    started, release, finished = subscribe_blocking_handler(linker)

    with ThreadPoolExecutor(max_workers=2) as pool:
        with ExecutorEventEmitter(pool, linker=linker) as emitter:
            for value in range(3):
                emitter.emit("A", value)
            assert started.wait(timeout=10)
            # Released only after the block starts exiting, so __exit__ must wait to see them.
            threading.Timer(0.05, release.set).start()

        assert sorted(finished) == [0, 1, 2]
        assert pool.submit(lambda: "open").result(timeout=10) == "open"


def test_only_the_executor_may_be_given_positionally(
    linker: type[EventLinker],
) -> None:
    with pytest.raises(TypeError):
        ExecutorEventEmitter(None, 2)  # type: ignore[misc]


# a process pool ----------------------------------------------------------------------------------


def test_a_process_pool_runs_module_level_handlers_in_other_processes(
    linker: type[EventLinker], tmp_path: Path
) -> None:
    log = tmp_path / "calls.log"
    linker.on("A")(pool_handlers.record_pid)
    linker.subscribe(pool_handlers.OrderPlaced, event_callback=pool_handlers.record_pid)
    linker.subscribe("A", event_callback=pool_handlers.fail)

    with ExecutorEventEmitter(max_workers=2, processes=True, linker=linker) as emitter:
        assert isinstance(emitter.executor, ProcessPoolExecutor)
        emitter.emit("A", path=str(log), label="first")
        emitter.emit(pool_handlers.OrderPlaced(1), path=str(log), label="order")

    lines = sorted(log.read_text().splitlines())
    labels = [line.split()[0] for line in lines]
    assert labels == ["first", "first", "order"]  # record_pid, then fail, then the order
    pids = {int(line.split()[1]) for line in lines}
    assert os.getpid() not in pids


def test_a_given_process_pool_works_and_stays_open(
    linker: type[EventLinker], tmp_path: Path
) -> None:
    log = tmp_path / "calls.log"
    linker.on("A")(pool_handlers.record_pid)

    with ProcessPoolExecutor(max_workers=1) as pool:
        with ExecutorEventEmitter(pool, linker=linker) as emitter:
            emitter.emit("A", path=str(log))
        assert pool.submit(pool_handlers.double, 2).result(timeout=30) == 4

    (line,) = log.read_text().splitlines()
    label, pid = line.split()
    assert label == "handled"
    assert int(pid) != os.getpid()


def test_an_emission_a_process_pool_cannot_pickle_is_logged_not_lost(
    linker: type[EventLinker], caplog: pytest.LogCaptureFixture
) -> None:
    linker.on("A")(pool_handlers.double)

    with ExecutorEventEmitter(max_workers=1, processes=True, linker=linker) as emitter:
        assert emitter.emit("A", threading.Lock()) is not None

    assert "could not run in the executor" in caplog.text
