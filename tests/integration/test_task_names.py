"""The event is visible in Celery's own tools: the worker log and Celery's task events."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery

from events_celery import CeleryEventEmitter
from tests.integration.support import (
    Recorder,
    WorkerProcess,
    base_conf,
    delete_dead_letter_queue,
    make_app,
)


def test_the_worker_log_names_the_event_of_each_received_task(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    conf = base_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)

    emission = CeleryEventEmitter(make_app(broker_url, conf)).emit("itest.text", "seen", n=1)

    assert emission is not None
    worker.wait_log(f"Task itest.text[{emission.id}] received")
    worker.wait_log(f"Task itest.text[{emission.id}] succeeded")


class TaskEvents:
    """Celery task events captured with `app.events.Receiver` in a thread, until `done` holds."""

    def __init__(self, app: Celery, kinds: tuple[str, ...]) -> None:
        self.app = app
        self.kinds = kinds
        self.events: list[dict[str, Any]] = []
        self.done: Callable[[list[dict[str, Any]]], bool] = lambda events: False
        self._listening = threading.Event()

    def capture(self, act: Callable[[], Callable[[list[dict[str, Any]]], bool]]) -> None:
        """Start listening, run `act` (it returns the stop condition), wait up to 30 s."""
        with self.app.connection_for_read() as connection:
            receiver = self.app.events.Receiver(connection, handlers={})
            ready = receiver.on_consume_ready

            def on_ready(*args: Any, **kwargs: Any) -> None:
                ready(*args, **kwargs)
                self._listening.set()

            def on_event(event: dict[str, Any]) -> None:
                self.events.append(event)
                if self.done(self.events):
                    receiver.should_stop = True

            receiver.on_consume_ready = on_ready  # type: ignore[method-assign]
            for kind in self.kinds:
                receiver.handlers[kind] = on_event
            thread = threading.Thread(
                target=receiver.capture, kwargs={"limit": None, "timeout": 30, "wakeup": False}
            )
            thread.start()
            try:
                assert self._listening.wait(20)
                self.done = act()
                if self.done(self.events):
                    receiver.should_stop = True
                thread.join(30)
            finally:
                receiver.should_stop = True
                thread.join(30)

    def of(self, task_id: str) -> list[str]:
        """The kinds of the captured events of one task, in order."""
        return [event["type"] for event in self.events if event.get("uuid") == task_id]


def test_celerys_task_events_carry_the_event_name(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    conf = base_conf(queue, worker_send_task_events=True)
    worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)
    captured = TaskEvents(app, ("task-received",))
    ids: list[str] = []

    def emit() -> Callable[[list[dict[str, Any]]], bool]:
        emission = CeleryEventEmitter(app).emit("itest.text", "seen", n=2)
        assert emission is not None
        ids.append(emission.id)
        return lambda events: any(event.get("uuid") == emission.id for event in events)

    captured.capture(emit)

    [event] = [event for event in captured.events if event.get("uuid") == ids[0]]
    assert event["name"] == "itest.text"


def test_retried_and_dead_lettered_emissions_show_as_retry_and_rejected_in_task_events(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    conf = base_conf(queue, worker_send_task_events=True, events_dead_letter=True)
    retry = {"ITEST_RETRY": json.dumps({"max_attempts": 2, "initial": 0.2, "factor": 1.0})}
    worker_factory(broker_url, [queue], conf, env=retry)
    app = make_app(broker_url, conf)
    kinds = ("task-succeeded", "task-retried", "task-rejected", "task-failed")
    captured = TaskEvents(app, kinds)
    ids: dict[str, str] = {}

    def emit() -> Callable[[list[dict[str, Any]]], bool]:
        emitter = CeleryEventEmitter(app)
        for name, event, args, kwargs in (
            ("ok", "itest.text", ("fine",), {"n": 1}),
            ("doomed", "itest.invalid", (3,), {"card": "4111"}),
        ):
            emission = emitter.emit(event, *args, **kwargs)
            assert emission is not None
            ids[name] = emission.id
        return lambda events: any(
            event.get("uuid") == ids["doomed"] and event["type"] == "task-rejected"
            for event in events
        )

    try:
        captured.capture(emit)
    finally:
        delete_dead_letter_queue(app)

    assert captured.of(ids["ok"]) == ["task-succeeded"]
    # A retry is a new message with the same task id. Celery records a message rejected for
    # good as failed (task-failed), then rejects it: monitors end on REJECTED.
    assert captured.of(ids["doomed"]) == ["task-retried", "task-failed", "task-rejected"]
