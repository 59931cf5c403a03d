"""`AsyncIOEventEmitter`: blocking outside a loop, scheduling inside one, errors kept inside."""

from __future__ import annotations

import asyncio
import threading

import pytest

from events_core import AsyncIOEventEmitter, EventLinker, InvalidEventError


class Boom(Exception):
    pass


# outside a running loop --------------------------------------------------------------------------


def test_outside_a_loop_sync_handlers_run_before_emit_returns(linker: type[EventLinker]) -> None:
    calls: list[object] = []
    linker.on("A")(lambda value: calls.append(("first", value)))
    linker.on("A")(lambda value: calls.append(("second", value)))

    emission = AsyncIOEventEmitter(linker=linker).emit("A", 1)

    assert emission is not None
    assert calls == [("first", 1), ("second", 1)]


def test_outside_a_loop_async_handlers_run_before_emit_returns(linker: type[EventLinker]) -> None:
    calls: list[str] = []

    @linker.on("A")
    async def handler(value: int) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        calls.append(f"async {value}")

    linker.on("A")(lambda value: calls.append(f"sync {value}"))

    AsyncIOEventEmitter(linker=linker).emit("A", 1)

    assert sorted(calls) == ["async 1", "sync 1"]


def test_outside_a_loop_sync_handlers_run_on_the_calling_thread(
    linker: type[EventLinker],
) -> None:
    threads: list[int] = []
    linker.on("A")(lambda: threads.append(threading.get_ident()))

    AsyncIOEventEmitter(linker=linker).emit("A")

    assert threads == [threading.get_ident()]


def test_outside_a_loop_force_async_handlers_run_in_another_thread_before_emit_returns(
    linker: type[EventLinker],
) -> None:
    threads: list[int] = []
    linker.on("A", force_async=True)(lambda: threads.append(threading.get_ident()))

    AsyncIOEventEmitter(linker=linker).emit("A")

    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


def test_outside_a_loop_no_event_loop_is_left_running(linker: type[EventLinker]) -> None:
    @linker.on("A")
    async def handler() -> None:
        await asyncio.sleep(0)

    AsyncIOEventEmitter(linker=linker).emit("A")

    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


# inside a running loop ---------------------------------------------------------------------------


def test_inside_a_loop_emit_does_not_run_sync_handlers_synchronously(
    linker: type[EventLinker],
) -> None:
    calls: list[int] = []
    linker.on("A")(calls.append)

    async def main() -> None:
        emitter = AsyncIOEventEmitter(linker=linker)
        emission = emitter.emit("A", 1)
        assert emission is not None
        assert calls == []
        await emitter.wait()
        assert calls == [1]

    asyncio.run(main())


def test_inside_a_loop_emit_does_not_run_async_handlers_synchronously(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []

    @linker.on("A")
    async def handler(value: int) -> None:
        calls.append(f"async {value}")

    linker.on("A")(lambda value: calls.append(f"sync {value}"))

    async def main() -> None:
        emitter = AsyncIOEventEmitter(linker=linker)
        emitter.emit("A", 1)
        emitter.emit("A", 2)
        assert calls == []
        await emitter.wait()
        assert sorted(calls) == ["async 1", "async 2", "sync 1", "sync 2"]

    asyncio.run(main())


def test_inside_a_loop_handlers_run_once_the_emitter_yields(linker: type[EventLinker]) -> None:
    done = asyncio.Event()
    linker.on("A")(lambda: done.set())

    async def main() -> None:
        AsyncIOEventEmitter(linker=linker).emit("A")
        assert not done.is_set()
        await asyncio.wait_for(done.wait(), timeout=10)

    asyncio.run(main())


def test_inside_a_loop_handlers_run_in_the_loops_thread(linker: type[EventLinker]) -> None:
    threads: list[int] = []
    linker.on("A")(lambda: threads.append(threading.get_ident()))

    @linker.on("A")
    async def handler() -> None:
        threads.append(threading.get_ident())

    async def main() -> None:
        emitter = AsyncIOEventEmitter(linker=linker)
        emitter.emit("A")
        await emitter.wait()

    asyncio.run(main())
    assert threads == [threading.get_ident()] * 2


def test_wait_also_waits_for_emissions_made_by_handlers(linker: type[EventLinker]) -> None:
    calls: list[str] = []
    emitter = AsyncIOEventEmitter(linker=linker)

    @linker.on("A")
    async def first() -> None:
        await asyncio.sleep(0)
        calls.append("A")
        emitter.emit("B")

    @linker.on("B")
    async def second() -> None:
        await asyncio.sleep(0)
        calls.append("B")

    async def main() -> None:
        emitter.emit("A")
        await emitter.wait()

    asyncio.run(main())
    assert calls == ["A", "B"]


def test_wait_returns_at_once_when_nothing_was_emitted(linker: type[EventLinker]) -> None:
    async def main() -> None:
        await asyncio.wait_for(AsyncIOEventEmitter(linker=linker).wait(), timeout=10)

    asyncio.run(main())


def test_async_handlers_of_one_emission_run_concurrently_in_a_loop(
    linker: type[EventLinker],
) -> None:
    events: dict[str, asyncio.Event] = {}
    finished: list[str] = []

    @linker.on("A")
    async def first() -> None:
        events["first"].set()
        await events["second"].wait()
        finished.append("first")

    @linker.on("A")
    async def second() -> None:
        events["second"].set()
        await events["first"].wait()
        finished.append("second")

    async def main() -> None:
        events["first"] = asyncio.Event()
        events["second"] = asyncio.Event()
        emitter = AsyncIOEventEmitter(linker=linker)
        emitter.emit("A")
        await asyncio.wait_for(emitter.wait(), timeout=10)

    asyncio.run(main())
    assert sorted(finished) == ["first", "second"]


# errors ------------------------------------------------------------------------------------------


def subscribe_failing_handlers(
    linker: type[EventLinker], calls: list[str], failures: list[BaseException]
) -> tuple[Boom, Boom]:
    """Subscribe a failing sync and async handler to "sync" and "async", each with a sibling."""
    sync_error = Boom("sync")
    async_error = Boom("async")

    def failing() -> None:
        raise sync_error

    async def afailing() -> None:
        raise async_error

    linker.subscribe("sync", event_callback=failing, failure_callback=failures.append)
    linker.on("sync")(lambda: calls.append("after sync"))
    linker.subscribe("async", event_callback=afailing, failure_callback=failures.append)
    linker.on("async")(lambda: calls.append("after async"))
    return sync_error, async_error


def test_handler_errors_never_propagate_from_emit_outside_a_loop(
    linker: type[EventLinker], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    failures: list[BaseException] = []
    sync_error, async_error = subscribe_failing_handlers(linker, calls, failures)
    emitter = AsyncIOEventEmitter(linker=linker)

    assert emitter.emit("sync") is not None
    assert emitter.emit("async") is not None

    assert calls == ["after sync", "after async"]
    assert failures == [sync_error, async_error]
    assert caplog.text.count("Boom") >= 2
    assert "failing" in caplog.text


def test_handler_errors_never_propagate_from_emit_or_wait_in_a_loop(
    linker: type[EventLinker], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    failures: list[BaseException] = []
    sync_error, async_error = subscribe_failing_handlers(linker, calls, failures)

    async def main() -> None:
        emitter = AsyncIOEventEmitter(linker=linker)
        emitter.emit("sync")
        emitter.emit("async")
        await emitter.wait()

    asyncio.run(main())

    assert sorted(calls) == ["after async", "after sync"]
    assert failures == [sync_error, async_error]
    assert caplog.text.count("Boom") >= 2


def test_a_raising_failure_callback_never_propagates_from_emit(
    linker: type[EventLinker],
) -> None:
    calls: list[str] = []

    def failing() -> None:
        raise Boom("handler")

    def on_failure(exc: BaseException) -> None:
        raise RuntimeError("failure callback")

    linker.subscribe("A", event_callback=failing, failure_callback=on_failure)
    linker.on("A")(lambda: calls.append("next"))

    AsyncIOEventEmitter(linker=linker).emit("A")

    assert calls == ["next"]


def test_a_raising_success_callback_never_propagates_from_emit(linker: type[EventLinker]) -> None:
    calls: list[str] = []

    def on_success(result: object) -> None:
        raise RuntimeError("success callback")

    linker.subscribe("A", event_callback=lambda: 1, success_callback=on_success)
    linker.on("A")(lambda: calls.append("next"))

    async def main() -> None:
        emitter = AsyncIOEventEmitter(linker=linker)
        emitter.emit("A")
        await emitter.wait()

    AsyncIOEventEmitter(linker=linker).emit("A")
    asyncio.run(main())

    assert calls == ["next", "next"]


def test_emitting_an_invalid_event_still_raises(linker: type[EventLinker]) -> None:
    with pytest.raises(InvalidEventError):
        AsyncIOEventEmitter(linker=linker).emit(None)
