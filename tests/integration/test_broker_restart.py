"""No emission is lost when RabbitMQ restarts mid-stream (durable queues, persistent messages).

The node restarted is the test's own (`private_rabbit`), never the shared one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from events_celery import CeleryEventEmitter, PublishError
from tests.integration.brokers import PrivateRabbit
from tests.integration.support import Recorder, WorkerProcess, base_conf, make_app

EMISSIONS = 12


def emit_until_published(emitter: CeleryEventEmitter, number: int) -> None:
    """Emit, retrying while the broker is away, as an application would on PublishError."""
    deadline = time.monotonic() + 90
    while True:
        try:
            emitter.emit("itest.slow", number, seconds=0.3)
            return
        except PublishError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_every_emission_is_handled_when_rabbitmq_restarts_mid_stream(
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    private_rabbit: PrivateRabbit,
) -> None:
    broker_url = private_rabbit.url
    conf = base_conf(queue)
    worker = worker_factory(broker_url, [queue], conf, concurrency=2)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))
    for number in range(EMISSIONS):
        emit_until_published(emitter, number)
    recorder.wait_for(lambda records: len(records) >= 2)

    private_rabbit.ctl("stop_app", timeout=120)
    time.sleep(1)
    private_rabbit.ctl("start_app", timeout=120)
    worker.wait_log("Connection to broker lost")
    for number in range(EMISSIONS, 2 * EMISSIONS):
        emit_until_published(emitter, number)

    found = recorder.wait_for(
        lambda records: {item["number"] for item in records} == set(range(2 * EMISSIONS)),
        timeout=120,
    )
    assert {item["number"] for item in found} == set(range(2 * EMISSIONS))
