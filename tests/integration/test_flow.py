"""The tutorial flow end to end on real brokers and real `celery worker` processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

from kombu import Connection

from events_celery import CeleryEventEmitter
from tests.integration.handlers import ExpressParcel, Isolated, Item, Parcel
from tests.integration.support import ROOT, Recorder, WorkerProcess, base_conf, make_app


def test_string_events_reach_sync_and_async_handlers_with_args_and_kwargs(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker_factory(broker_url, [queue], conf)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))

    emission = emitter.emit("itest.text", "hello", n=3)

    assert emission is not None
    found = recorder.wait_for(lambda records: len(records) >= 2)
    assert sorted(item["handler"] for item in found) == ["on_text", "on_text_async"]
    assert all(item["text"] == "hello" and item["n"] == 3 for item in found)


def test_a_handler_on_a_base_class_receives_a_subclass_instance_with_nested_values(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker_factory(broker_url, [queue], conf)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))

    emitter.emit(Parcel(1, (Item("a", 2),)))
    emitter.emit(ExpressParcel(2, (Item("b", 1), Item("c", 5))))

    found = recorder.wait_for(lambda records: len(records) >= 2)
    by_id = {item["parcel_id"]: item for item in found}
    assert by_id[1]["type"] == "Parcel"
    assert by_id[1]["items"] == [["a", 2]]
    assert by_id[2]["type"] == "ExpressParcel"
    assert by_id[2]["items"] == [["b", 1], ["c", 5]]


def test_success_and_failure_callbacks_run_on_the_worker(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))

    emitter.emit("itest.callbacks", 21)

    found = recorder.wait_for(lambda records: len(records) >= 4)
    handlers = {item["handler"]: item for item in found}
    assert handlers["multiply"]["value"] == 21
    assert handlers["on_result"]["result"] == 42
    assert handlers["explode"]["value"] == 21
    assert handlers["on_error"] == {**handlers["on_error"], "error": "ValueError"}
    log = worker.wait_log("EmissionFailedError")
    assert "tests.integration.handlers:explode (ValueError: cannot handle 21)" in log
    assert all(item["pid"] != __import__("os").getpid() for item in found)


def test_handlers_and_callbacks_that_are_async_callable_objects_are_awaited_on_the_worker(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))

    emission = emitter.emit("itest.async_callables", 5)

    assert emission is not None
    assert [handler.ref for handler in emission.handlers] == [
        "tests.integration.handlers:async_tripler",
        "tests.integration.handlers:async_failing",
    ]
    found = recorder.wait_for(lambda records: len(records) >= 4)
    handlers = {item["handler"]: item for item in found}
    assert handlers["async_tripler"]["value"] == 5
    assert handlers["async_on_result"]["result"] == 15
    assert handlers["async_failing"]["value"] == 5
    assert handlers["async_on_error"]["error"] == "ValueError"
    assert "async_failing cannot handle 5" in handlers["async_on_error"]["message"]
    assert all(item["pid"] != os.getpid() for item in found)
    log = worker.wait_log("EmissionFailedError")
    assert "tests.integration.handlers:async_failing (ValueError: async_failing cannot" in log
    assert "1 handler(s) failed" in log


def test_linkers_are_namespaces_sharing_one_app_and_task(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)

    CeleryEventEmitter(app, linker=Isolated).emit("itest.text", "only isolated", n=1)

    found = recorder.wait_for(lambda records: len(records) >= 1)
    assert [item["handler"] for item in recorder.settle()] == ["isolated_text"]
    assert found[0]["text"] == "only isolated"


def test_a_producer_without_handler_code_emits_with_worker_resolution(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker_factory(broker_url, [queue], conf)
    producer = textwrap.dedent(
        f"""
        import sys
        from celery import Celery
        from events_celery import CeleryEventEmitter
        app = Celery("producer", broker={broker_url!r})
        app.conf.update({conf!r})
        emission = CeleryEventEmitter(app, resolve="worker").emit("itest.text", "remote", n=7)
        assert emission is not None and emission.handlers == ()
        assert "tests.integration.handlers" not in sys.modules
        print("sent", emission.id)
        """
    )

    result = subprocess.run(
        [sys.executable, "-c", producer], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    found = recorder.wait_for(lambda records: len(records) >= 2)
    assert sorted(item["handler"] for item in found) == ["on_text", "on_text_async"]
    assert {item["n"] for item in found} == {7}


def test_with_worker_resolution_a_once_handler_runs_once_per_worker_process(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker_factory(broker_url, [queue], conf)
    worker_factory(broker_url, [queue], conf)
    emitter = CeleryEventEmitter(make_app(broker_url, conf), resolve="worker")

    for number in range(6):
        emitter.emit("itest.once_per_process", number)

    recorder.wait_for(lambda records: len(records) >= 8)
    found = recorder.settle()
    every = {item["pid"] for item in recorder.records("every_delivery")}
    once = [item["pid"] for item in recorder.records("once_per_process")]
    assert len(recorder.records("every_delivery")) == 6
    assert len(every) == 2
    assert sorted(once) == sorted(every)
    assert len(found) == 8


def test_the_message_shows_the_event_and_id_but_never_the_payload(
    broker_url: str, queue: str
) -> None:
    conf = base_conf(queue)
    app = make_app(broker_url, conf)

    emission = CeleryEventEmitter(app).emit("itest.text", "top secret payload", n=1)

    assert emission is not None
    with Connection(broker_url) as connection:
        simple = connection.SimpleQueue(queue)
        message = simple.get(timeout=10)
        headers = message.headers
        message.ack()
        simple.close()
    assert headers["argsrepr"] == f"('itest.text', {emission.id!r})"
    assert "secret" not in headers["argsrepr"] + headers["kwargsrepr"]
    assert headers["id"] == emission.id
