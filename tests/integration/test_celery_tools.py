"""Celery's tools see the events queue: a worker without `-Q`, `celery call`, `celery purge`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from kombu import Queue

from events_celery import CeleryEventEmitter
from tests.integration.support import (
    ROOT,
    Recorder,
    WorkerProcess,
    capture_envelope,
    make_app,
    worker_env,
)


def conf_for(queue: str) -> dict[str, Any]:
    """Events go to `queue`; Celery's own default queue is another one of this test's."""
    return {
        "events_default_queue": queue,
        "task_default_queue": f"{queue}-celery",
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
    }


def celery(broker_url: str, conf: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    env = worker_env(broker_url, conf, "unused")
    command = [sys.executable, "-m", "celery", "-A", "tests.integration.worker_app", *args]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def queued(broker_url: str, conf: dict[str, Any], queue: str) -> int:
    app = make_app(broker_url, conf)
    with app.connection_for_read() as connection:
        _, count, _ = Queue(queue).bind(connection.default_channel).queue_declare()
    return int(count)


def test_a_worker_started_without_q_consumes_the_events_queue(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    conf = conf_for(queue)
    worker = worker_factory(broker_url, [], conf)

    CeleryEventEmitter(make_app(broker_url, conf)).emit("itest.text", "no -Q needed")

    found = recorder.wait_for(lambda records: len(records) >= 2)
    assert {record["text"] for record in found} == {"no -Q needed"}
    assert "consumes none of the queues" not in worker.log()


def test_a_worker_that_consumes_no_events_queue_warns_at_startup_naming_it(
    broker_url: str,
    queue: str,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    conf = conf_for(queue)
    only_celery = json.dumps([f"{queue}-celery"])

    worker = worker_factory(broker_url, [], conf, env={"ITEST_TASK_QUEUES": only_celery})

    log = worker.wait_log("consumes none of the queues events are routed to")
    assert f"({queue})" in log
    assert f"-Q {queue}" in log


def test_celery_call_without_a_queue_reaches_the_worker_of_the_events_queue(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    conf = conf_for(queue)
    worker_factory(broker_url, [queue], conf)
    envelope = capture_envelope(make_app(broker_url, conf), "itest.text", "called", n=1)

    called = celery(
        broker_url, conf, "call", "events.execute", "--args", json.dumps([envelope.to_message()])
    )

    assert called.returncode == 0, called.stderr
    found = recorder.wait_for(lambda records: len(records) >= 2)
    assert {record["text"] for record in found} == {"called"}


def test_celery_purge_empties_the_events_queue(broker_url: str, queue: str) -> None:
    conf = conf_for(queue)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))
    for number in range(3):
        emitter.emit("itest.text", f"purged {number}")
    assert queued(broker_url, conf, queue) == 3

    purged = celery(broker_url, conf, "purge", "-f")

    assert purged.returncode == 0, purged.stderr
    assert queued(broker_url, conf, queue) == 0
