"""The event is visible in Celery's own tools: the worker log and Celery's task events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from events_celery import CeleryEventEmitter
from tests.integration.support import Recorder, WorkerProcess, base_conf, make_app


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


def test_celerys_task_events_carry_the_event_name(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    conf = base_conf(queue, worker_send_task_events=True)
    worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)
    received: list[dict[str, Any]] = []
    listening = threading.Event()
    wanted: list[str] = []

    with app.connection_for_read() as connection:
        receiver = app.events.Receiver(connection, handlers={})
        ready = receiver.on_consume_ready

        def on_ready(*args: Any, **kwargs: Any) -> None:
            ready(*args, **kwargs)
            listening.set()

        def on_received(event: dict[str, Any]) -> None:
            received.append(event)
            if event.get("uuid") in wanted:
                receiver.should_stop = True

        receiver.on_consume_ready = on_ready  # type: ignore[method-assign]
        receiver.handlers["task-received"] = on_received
        thread = threading.Thread(
            target=receiver.capture, kwargs={"limit": None, "timeout": 30, "wakeup": False}
        )
        thread.start()
        try:
            assert listening.wait(20)
            emission = CeleryEventEmitter(app).emit("itest.text", "seen", n=2)
            assert emission is not None
            wanted.append(emission.id)
            if any(event.get("uuid") == emission.id for event in received):
                receiver.should_stop = True
            thread.join(30)
        finally:
            receiver.should_stop = True
            thread.join(30)

    [event] = [event for event in received if event.get("uuid") == emission.id]
    assert event["name"] == "itest.text"
