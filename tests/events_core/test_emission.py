"""`EventEmission`: the immutable emission model and running its handlers."""

from __future__ import annotations

import asyncio
import pickle
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from events_core import (
    AsyncIOEventEmitter,
    EmissionReport,
    EventEmission,
    EventHandler,
    EventLinker,
    EventsError,
    HandlerOutcome,
    UnknownFieldError,
    current_emission,
)
from events_core.emission import new_emission_id
from events_core.testing import RecordingEventEmitter
from tests.events_core import pool_handlers

HEX32 = re.compile(r"[0-9a-f]{32}")


class Boom(Exception):
    pass


def _emission(*handlers: EventHandler, **fields: object) -> EventEmission:
    return EventEmission("A", (1,), {"key": "value"}, handlers, **fields)  # type: ignore[arg-type]


def _labelled(calls: list[str], label: str) -> EventHandler:
    def callback(*args: object, **kwargs: object) -> str:
        calls.append(label)
        return label

    return EventHandler(callback)


# the model ---------------------------------------------------------------------------------------


def test_an_emission_exposes_what_it_was_built_with() -> None:
    handler = EventHandler(pool_handlers.double)
    emission = EventEmission("A", (1, 2), {"key": "value"}, (handler,), headers={"cid": "c1"})

    assert emission.event == "A"
    assert emission.args == (1, 2)
    assert dict(emission.kwargs) == {"key": "value"}
    assert emission.handlers == (handler,)
    assert dict(emission.headers) == {"cid": "c1"}
    assert emission.kind == "name"


def test_an_emission_is_immutable() -> None:
    emission = _emission()
    emission_id = emission.id

    for name, value in [("id", "0" * 32), ("event", "B"), ("attempt", 2), ("anything", 1)]:
        with pytest.raises(AttributeError, match="immutable"):
            setattr(emission, name, value)
    with pytest.raises(AttributeError, match="immutable"):
        del emission.event

    assert emission.id == emission_id
    assert emission.event == "A"
    assert emission.attempt == 1


def test_the_id_is_a_uuid4_in_32_hex_digits() -> None:
    emission = _emission()

    assert HEX32.fullmatch(emission.id)
    parsed = uuid.UUID(hex=emission.id)
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122
    assert parsed.hex == emission.id


def test_new_emission_ids_are_uuid4s_and_distinct() -> None:
    ids = {new_emission_id() for _ in range(1000)}

    assert len(ids) == 1000
    for emission_id in ids:
        assert HEX32.fullmatch(emission_id)
        assert uuid.UUID(hex=emission_id).version == 4


def test_the_id_is_stable() -> None:
    emission = _emission()

    assert emission.id == emission.id
    assert emission.replace(attempt=2).id == emission.id


def test_the_id_read_from_many_threads_at_once_is_the_same() -> None:
    for _ in range(20):
        emission = _emission()
        barrier = threading.Barrier(8)
        seen: list[str] = []

        def read(emission: EventEmission = emission, barrier=barrier, seen=seen) -> None:
            barrier.wait()
            seen.append(emission.id)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(seen) == 8
        assert set(seen) == {emission.id}


def test_every_emission_gets_its_own_id(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda: None)
    recorder = RecordingEventEmitter(linker=linker)

    ids = [recorder.emit("A").id for _ in range(50)]  # type: ignore[union-attr]

    assert len(set(ids)) == 50
    assert all(uuid.UUID(hex=emission_id).version == 4 for emission_id in ids)


def test_a_given_id_is_kept() -> None:
    assert _emission(id="ab" * 16).id == "ab" * 16


def test_the_timestamp_is_an_aware_utc_datetime_of_the_emission() -> None:
    before = datetime.now(timezone.utc)
    emission = _emission()
    after = datetime.now(timezone.utc)

    stamp = emission.timestamp
    assert stamp.tzinfo is not None
    assert stamp.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= stamp <= after + timedelta(seconds=1)


def test_an_emitted_emission_has_an_aware_utc_timestamp(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda: None)

    emission = RecordingEventEmitter(linker=linker).emit("A")

    assert emission is not None
    assert emission.timestamp.utcoffset() == timedelta(0)
    assert emission.timestamp.tzinfo is not None


def test_a_given_timestamp_is_kept_as_utc() -> None:
    given = datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))

    emission = _emission(timestamp=given)

    assert emission.timestamp == given
    assert emission.timestamp.utcoffset() == timedelta(0)
    assert emission.timestamp.hour == 10


def test_created_is_the_timestamp_in_epoch_seconds() -> None:
    given = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)

    emission = _emission(timestamp=given)

    assert emission.created == given.timestamp()
    assert emission.replace().created == emission.created
    with pytest.raises(AttributeError):
        emission.created = 0.0  # type: ignore[misc]


def test_attempt_is_one_for_the_first_delivery(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda: None)

    assert _emission().attempt == 1
    assert RecordingEventEmitter(linker=linker).emit("A").attempt == 1  # type: ignore[union-attr]
    assert _emission(attempt=3).attempt == 3


def test_kwargs_and_headers_are_read_only() -> None:
    emission = _emission(headers={"cid": "c1"})

    with pytest.raises(TypeError):
        emission.kwargs["key"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        emission.headers["cid"] = "c2"  # type: ignore[index]

    assert dict(emission.kwargs) == {"key": "value"}
    assert dict(emission.headers) == {"cid": "c1"}


def test_kwargs_and_headers_are_copied_from_what_was_given() -> None:
    kwargs = {"key": "value"}
    headers = {"cid": "c1"}
    emission = EventEmission("A", (), kwargs, headers=headers)

    kwargs["key"] = "changed"
    headers["cid"] = "changed"

    assert emission.kwargs["key"] == "value"
    assert emission.headers["cid"] == "c1"


def test_kwargs_and_headers_default_to_empty_read_only_mappings() -> None:
    emission = EventEmission("A")

    assert dict(emission.kwargs) == {}
    assert dict(emission.headers) == {}
    assert emission.args == ()
    assert emission.handlers == ()
    with pytest.raises(TypeError):
        emission.headers["x"] = "y"  # type: ignore[index]


def test_kwargs_of_an_emitted_emission_are_read_only(linker: type[EventLinker]) -> None:
    linker.on("A")(lambda **kwargs: None)

    emission = RecordingEventEmitter(linker=linker).emit("A", key="value")

    assert emission is not None
    assert dict(emission.kwargs) == {"key": "value"}
    with pytest.raises(TypeError):
        emission.kwargs["key"] = "other"  # type: ignore[index]


# replace -----------------------------------------------------------------------------------------


def test_replace_returns_a_changed_copy_with_the_same_id() -> None:
    handler = EventHandler(pool_handlers.double)
    emission = _emission(handler, headers={"cid": "c1"})

    retried = emission.replace(attempt=2, handlers=(), headers={"cid": "c2"})

    assert retried is not emission
    assert retried.id == emission.id
    assert retried.attempt == 2
    assert retried.handlers == ()
    assert dict(retried.headers) == {"cid": "c2"}
    assert retried.event == emission.event
    assert retried.args == emission.args
    assert retried.kwargs == emission.kwargs
    assert retried.timestamp == emission.timestamp
    assert retried.kind == emission.kind
    assert emission.attempt == 1
    assert emission.handlers == (handler,)
    assert dict(emission.headers) == {"cid": "c1"}


def test_replace_without_changes_gives_an_equal_emission() -> None:
    emission = _emission(EventHandler(pool_handlers.double))

    assert emission.replace() == emission


def test_replace_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError, match="no field"):
        _emission().replace(priority=1)
    unknown = r"no field\(s\) color, priority; its fields"
    with pytest.raises(UnknownFieldError, match=unknown) as caught:
        _emission().replace(priority=1, color="red", attempt=2)
    assert caught.value.unknown == ("color", "priority")
    assert isinstance(caught.value, EventsError)


# equality and pickling ---------------------------------------------------------------------------


def test_emissions_are_equal_only_with_the_same_id_and_fields() -> None:
    emission = _emission()

    assert emission == emission.replace()
    assert hash(emission) == hash(emission.replace())
    assert emission != _emission()
    assert emission != emission.replace(attempt=2)
    assert emission != emission.replace(event="B")
    assert emission != "not an emission"


def test_emissions_with_different_handlers_are_not_equal() -> None:
    emission = _emission(EventHandler(pool_handlers.double))

    assert emission != emission.replace(handlers=())
    assert emission != emission.replace(handlers=(EventHandler(pool_handlers.order_id),))
    assert emission != emission.replace(handlers=(EventHandler(pool_handlers.double, once=True),))
    assert emission == emission.replace(handlers=(EventHandler(pool_handlers.double),))
    assert emission != emission.replace(
        handlers=(EventHandler(pool_handlers.double, options={"retry": 2}),)
    )


def test_an_emission_pickles_and_unpickles_equal() -> None:
    handler = EventHandler(pool_handlers.double, options={"retry": 2})
    emission = EventEmission(
        "A", (1, 2), {"key": "value"}, (handler,), headers={"cid": "c1"}, attempt=2
    )

    copy = pickle.loads(pickle.dumps(emission))  # noqa: S301 - our own bytes

    assert copy == emission
    assert copy.id == emission.id
    assert copy.event == "A"
    assert copy.args == (1, 2)
    assert dict(copy.kwargs) == {"key": "value"}
    assert dict(copy.headers) == {"cid": "c1"}
    assert copy.attempt == 2
    assert copy.timestamp == emission.timestamp
    assert copy.kind == emission.kind
    assert [h.ref for h in copy.handlers] == [handler.ref]
    assert copy.handlers[0].event_callback is pool_handlers.double
    with pytest.raises(AttributeError):
        copy.attempt = 3  # type: ignore[misc]


def test_an_emitted_class_event_pickles_and_runs_after_unpickling(
    linker: type[EventLinker],
) -> None:
    linker.on(pool_handlers.OrderPlaced)(pool_handlers.order_id)
    emission = RecordingEventEmitter(linker=linker).emit(pool_handlers.OrderPlaced(3))
    assert emission is not None

    copy = pickle.loads(pickle.dumps(emission))  # noqa: S301 - our own bytes

    assert copy == emission
    assert copy.id == emission.id
    assert copy.kind == "class"
    assert copy.args == (pool_handlers.OrderPlaced(3),)
    report = copy.run()
    assert report.emission_id == emission.id
    assert report.outcomes[0].result == 3


def test_repr_shows_id_event_handler_count_and_attempt() -> None:
    emission = _emission(EventHandler(pool_handlers.double), id="cd" * 16)

    assert repr(emission) == (f"EventEmission(id='{'cd' * 16}', event='A', handlers=1, attempt=1)")


# run and arun ------------------------------------------------------------------------------------


def test_run_returns_a_report_with_outcomes_in_subscription_order() -> None:
    calls: list[str] = []
    handlers = [_labelled(calls, label) for label in ("first", "second", "third")]
    emission = _emission(*handlers)

    report = emission.run()

    assert isinstance(report, EmissionReport)
    assert report.emission_id == emission.id
    assert report.event == "A"
    assert calls == ["first", "second", "third"]
    assert [outcome.result for outcome in report.outcomes] == ["first", "second", "third"]
    assert [outcome.handler for outcome in report.outcomes] == [h.ref for h in handlers]
    assert report.ok
    assert report.failed == ()
    assert report.succeeded == report.outcomes


def test_run_passes_args_and_kwargs_to_every_handler() -> None:
    received: list[object] = []
    handler = EventHandler(lambda *args, **kwargs: received.append((args, kwargs)))

    _emission(handler, handler).run()

    assert received == [((1,), {"key": "value"})] * 2


def test_runs_inline_says_whether_every_handler_can_run_without_a_loop() -> None:
    async def callback() -> None:
        pass

    assert EventEmission("A").runs_inline
    assert _emission(EventHandler(pool_handlers.double)).runs_inline
    assert not _emission(EventHandler(pool_handlers.double), EventHandler(callback)).runs_inline
    assert not _emission(EventHandler(pool_handlers.double, force_async=True)).runs_inline
    assert _emission(EventHandler(callback)).replace(handlers=()).runs_inline


def test_run_with_no_handlers_returns_an_empty_report() -> None:
    report = EventEmission("A").run()

    assert report.outcomes == ()
    assert report.ok


def test_one_failing_handler_never_stops_the_others() -> None:
    calls: list[str] = []
    failures: list[BaseException] = []
    error = Boom("second failed")

    def failing(*args: object, **kwargs: object) -> None:
        calls.append("failing")
        raise error

    emission = _emission(
        _labelled(calls, "first"),
        EventHandler(failing, failure_callback=failures.append),
        _labelled(calls, "third"),
    )

    report = emission.run()

    assert calls == ["first", "failing", "third"]
    assert failures == [error]
    assert not report.ok
    first, second, third = report.outcomes
    assert (first.ok, first.result, first.exception) == (True, "first", None)
    assert (second.ok, second.result, second.exception) == (False, None, error)
    assert second.handler.endswith("failing")
    assert (third.ok, third.result, third.exception) == (True, "third", None)
    assert report.failed == (second,)
    assert report.succeeded == (first, third)
    assert all(isinstance(outcome, HandlerOutcome) for outcome in report.outcomes)
    assert all(outcome.duration >= 0 for outcome in report.outcomes)


def test_one_failing_async_handler_never_stops_the_others() -> None:
    calls: list[str] = []
    failures: list[BaseException] = []
    error = Boom("async failed")

    async def failing(*args: object, **kwargs: object) -> None:
        calls.append("failing")
        raise error

    async def succeeding(*args: object, **kwargs: object) -> str:
        calls.append("succeeding")
        return "done"

    emission = _emission(
        EventHandler(failing, failure_callback=failures.append),
        EventHandler(succeeding),
        _labelled(calls, "sync"),
    )

    for report in (emission.run(), asyncio.run(emission.arun())):
        assert [outcome.ok for outcome in report.outcomes] == [False, True, True]
        assert report.outcomes[0].exception is error
        assert report.outcomes[1].result == "done"
        assert report.outcomes[2].result == "sync"
    assert sorted(calls) == sorted(["failing", "succeeding", "sync"] * 2)
    assert failures == [error, error]


def test_run_runs_async_handlers_outside_a_loop() -> None:
    async def callback(value: int, key: str) -> str:
        await asyncio.sleep(0)
        return f"{value}-{key}"

    report = _emission(EventHandler(callback)).run()

    assert report.outcomes[0].result == "1-value"


def test_arun_returns_outcomes_in_subscription_order_for_mixed_handlers() -> None:
    calls: list[str] = []

    async def slow(*args: object, **kwargs: object) -> str:
        for _ in range(5):
            await asyncio.sleep(0)
        calls.append("slow async")
        return "slow async"

    async def fast(*args: object, **kwargs: object) -> str:
        calls.append("fast async")
        return "fast async"

    handlers = [
        EventHandler(slow),
        _labelled(calls, "sync one"),
        EventHandler(fast),
        _labelled(calls, "sync two"),
    ]

    report = asyncio.run(_emission(*handlers).arun())

    assert report.emission_id
    assert [outcome.result for outcome in report.outcomes] == [
        "slow async",
        "sync one",
        "fast async",
        "sync two",
    ]
    assert [outcome.handler for outcome in report.outcomes] == [h.ref for h in handlers]
    assert calls.index("fast async") < calls.index("slow async")


def test_async_handlers_of_one_emission_run_concurrently() -> None:
    state: dict[str, asyncio.Event] = {}

    async def first(*args: object, **kwargs: object) -> str:
        state["first"].set()
        await state["second"].wait()
        return "first"

    async def second(*args: object, **kwargs: object) -> str:
        state["second"].set()
        await state["first"].wait()
        return "second"

    emission = _emission(EventHandler(first), EventHandler(second))

    async def main() -> EmissionReport:
        state["first"] = asyncio.Event()
        state["second"] = asyncio.Event()
        # Run one after the other, each would wait forever for the other.
        return await asyncio.wait_for(emission.arun(), timeout=10)

    report = asyncio.run(main())

    assert [outcome.result for outcome in report.outcomes] == ["first", "second"]


def test_force_async_handlers_of_one_emission_run_concurrently_in_threads() -> None:
    first_started = threading.Event()
    second_started = threading.Event()
    threads: dict[str, int] = {}

    def first(*args: object, **kwargs: object) -> str:
        threads["first"] = threading.get_ident()
        first_started.set()
        assert second_started.wait(timeout=10)
        return "first"

    def second(*args: object, **kwargs: object) -> str:
        threads["second"] = threading.get_ident()
        second_started.set()
        assert first_started.wait(timeout=10)
        return "second"

    report = _emission(
        EventHandler(first, force_async=True), EventHandler(second, force_async=True)
    ).run()

    assert report.ok, report.failed
    assert threading.get_ident() not in threads.values()
    assert threads["first"] != threads["second"]


def test_arun_gives_failures_to_async_failure_callbacks() -> None:
    error = Boom("x")
    failures: list[BaseException] = []

    async def on_failure(exc: BaseException) -> None:
        failures.append(exc)

    def failing(*args: object, **kwargs: object) -> None:
        raise error

    report = asyncio.run(_emission(EventHandler(failing, failure_callback=on_failure)).arun())

    assert failures == [error]
    assert report.outcomes[0].exception is error


def test_run_quietly_runs_every_handler_and_says_whether_all_succeeded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    failures: list[BaseException] = []
    error = Boom("quiet")

    def failing(*args: object, **kwargs: object) -> None:
        raise error

    assert _emission(_labelled(calls, "a"), _labelled(calls, "b")).run_quietly() is True
    failing_emission = _emission(
        EventHandler(failing, failure_callback=failures.append), _labelled(calls, "c")
    )
    assert failing_emission.run_quietly() is False

    assert calls == ["a", "b", "c"]
    assert failures == [error]
    assert "failing" in caplog.text
    assert "Boom" in caplog.text


def test_run_quietly_reports_a_raising_success_callback() -> None:
    def on_success(result: object) -> None:
        raise Boom("success callback")

    handler = EventHandler(pool_handlers.double, success_callback=on_success)

    assert EventEmission("A", (2,), handlers=(handler,)).run_quietly() is False


def test_handlers_see_the_emission_they_run_for_and_nothing_outside_one(
    linker: type[EventLinker],
) -> None:
    seen: list[tuple[str, str | None]] = []

    def sync_handler() -> None:
        emission = current_emission()
        seen.append(("sync", emission.id if emission else None))

    async def async_handler() -> None:
        await asyncio.sleep(0)
        emission = current_emission()
        seen.append(("async", emission.id if emission else None))

    def threaded_handler() -> None:
        emission = current_emission()
        seen.append(("thread", emission.id if emission else None))

    linker.subscribe("ctx", event_callback=sync_handler)
    linker.subscribe("ctx", event_callback=async_handler)
    linker.subscribe("ctx", event_callback=threaded_handler, force_async=True)
    inline = AsyncIOEventEmitter(linker=linker).emit("ctx")
    emission = EventEmission("ctx", handlers=tuple(linker.get_event_handlers("ctx")))

    emission.run()

    assert inline is not None
    assert sorted(seen[:3]) == [("async", inline.id), ("sync", inline.id), ("thread", inline.id)]
    assert sorted(seen[3:]) == [
        ("async", emission.id),
        ("sync", emission.id),
        ("thread", emission.id),
    ]
    assert current_emission() is None


def test_the_quiet_inline_run_exposes_the_emission_too(linker: type[EventLinker]) -> None:
    seen: list[EventEmission | None] = []
    linker.subscribe("quiet", event_callback=lambda: seen.append(current_emission()))

    emission = AsyncIOEventEmitter(linker=linker).emit("quiet")

    assert seen == [emission]
    assert current_emission() is None
