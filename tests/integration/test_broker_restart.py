"""No emission is lost when RabbitMQ restarts mid-stream (durable queues, persistent messages)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from events_celery import CeleryEventEmitter, PublishError
from tests.integration.support import (
    BROKERS,
    Recorder,
    WorkerProcess,
    base_conf,
    make_app,
    reachable,
)

EMISSIONS = 12


@pytest.fixture
def rabbitmq_restart() -> Iterator[Callable[[], None]]:
    """Restart the local RabbitMQ node's app; make sure it is up again afterwards."""
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        pytest.skip("rabbitmqctl is not on this machine (RabbitMQ runs elsewhere)")
    if not reachable(BROKERS["amqp"]):
        pytest.skip("rabbitmq is not reachable")

    def restart() -> None:
        subprocess.run([rabbitmqctl, "stop_app"], check=True, capture_output=True, timeout=120)
        time.sleep(1)
        subprocess.run([rabbitmqctl, "start_app"], check=True, capture_output=True, timeout=120)

    yield restart
    if not reachable(BROKERS["amqp"]):
        subprocess.run([rabbitmqctl, "start_app"], capture_output=True, timeout=120)
    subprocess.run([rabbitmqctl, "await_startup"], capture_output=True, timeout=120)


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
    rabbitmq_restart: Callable[[], None],
) -> None:
    broker_url = BROKERS["amqp"]
    conf = base_conf(queue)
    worker = worker_factory(broker_url, [queue], conf, concurrency=2)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))
    for number in range(EMISSIONS):
        emit_until_published(emitter, number)
    recorder.wait_for(lambda records: len(records) >= 2)

    rabbitmq_restart()
    worker.wait_log("Connection to broker lost")
    for number in range(EMISSIONS, 2 * EMISSIONS):
        emit_until_published(emitter, number)

    found = recorder.wait_for(
        lambda records: {item["number"] for item in records} == set(range(2 * EMISSIONS)),
        timeout=120,
    )
    assert {item["number"] for item in found} == set(range(2 * EMISSIONS))
