"""`RecordingEventEmitter`: records emissions for users' own tests."""

from __future__ import annotations

from dataclasses import dataclass

from events_core import EmissionReport, EventEmitter, EventLinker
from events_core.testing import RecordingEventEmitter


@dataclass
class Shipped:
    parcel: str


class Boom(Exception):
    pass


def test_it_is_an_event_emitter() -> None:
    assert isinstance(RecordingEventEmitter(), EventEmitter)


def test_emissions_are_recorded_without_running_handlers(linker: type[EventLinker]) -> None:
    calls: list[object] = []
    linker.on("A")(calls.append)
    linker.on(Shipped)(calls.append)
    recorder = RecordingEventEmitter(linker=linker)

    first = recorder.emit("A", 1)
    second = recorder.emit(Shipped("p1"))

    assert calls == []
    assert recorder.emissions == [first, second]
    assert recorder.events == ["A", "tests.events_core.test_testing:Shipped"]
    assert first is not None
    assert first.args == (1,)


def test_events_without_handlers_are_not_recorded(linker: type[EventLinker]) -> None:
    recorder = RecordingEventEmitter(linker=linker)

    assert recorder.emit("nobody") is None
    assert recorder.emissions == []
    assert recorder.events == []


def test_run_all_runs_the_recorded_emissions_in_order_and_returns_their_reports(
    linker: type[EventLinker],
) -> None:
    calls: list[object] = []

    @linker.on("A", "B")
    def record(value: int) -> int:
        calls.append(value)
        return value * 2

    recorder = RecordingEventEmitter(linker=linker)
    first = recorder.emit("A", 1)
    second = recorder.emit("B", 2)

    reports = recorder.run_all()

    assert calls == [1, 2]
    assert all(isinstance(report, EmissionReport) for report in reports)
    assert [report.emission_id for report in reports] == [first.id, second.id]  # type: ignore[union-attr]
    assert [report.event for report in reports] == ["A", "B"]
    assert [report.outcomes[0].result for report in reports] == [2, 4]


def test_run_all_forgets_the_emissions_it_ran(linker: type[EventLinker]) -> None:
    calls: list[int] = []
    linker.on("A")(calls.append)
    recorder = RecordingEventEmitter(linker=linker)
    recorder.emit("A", 1)

    recorder.run_all()

    assert recorder.emissions == []
    assert recorder.run_all() == []
    assert calls == [1]


def test_run_all_reports_failures_and_runs_async_handlers(linker: type[EventLinker]) -> None:
    error = Boom("x")

    def failing() -> None:
        raise error

    async def succeeding() -> str:
        return "async done"

    linker.on("A")(failing)
    linker.on("A")(succeeding)
    recorder = RecordingEventEmitter(linker=linker)
    recorder.emit("A")

    (report,) = recorder.run_all()

    assert not report.ok
    assert report.outcomes[0].exception is error
    assert report.outcomes[1].result == "async done"


def test_clear_forgets_the_recorded_emissions(linker: type[EventLinker]) -> None:
    calls: list[int] = []
    linker.on("A")(calls.append)
    recorder = RecordingEventEmitter(linker=linker)
    recorder.emit("A", 1)
    recorder.emit("A", 2)

    recorder.clear()

    assert recorder.emissions == []
    assert recorder.events == []
    assert recorder.run_all() == []
    assert calls == []


def test_once_handlers_are_taken_when_recorded(linker: type[EventLinker]) -> None:
    calls: list[int] = []
    linker.once("A")(calls.append)
    recorder = RecordingEventEmitter(linker=linker)

    recorder.emit("A", 1)
    assert recorder.emit("A", 2) is None
    recorder.run_all()

    assert calls == [1]
