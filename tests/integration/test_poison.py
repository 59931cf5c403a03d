"""Poison messages: nothing that arrives can crash-loop, kill or wedge a worker.

Each test runs real `celery worker` processes on Redis and RabbitMQ; dead letters are read
with `DeadLetterQueue(app)`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from kombu import Connection, Exchange, Producer

from events_celery import CeleryEventEmitter
from events_contrib import DeadLetterQueue
from events_contrib.deadletter import DeadLetter
from tests.integration.support import (
    Recorder,
    WorkerProcess,
    base_conf,
    delete_dead_letter_queue,
    make_app,
)

BEHIND = 20
CONNECTION_LOST = "connection lost"  # what Celery's consumer logs before it reconnects


@pytest.fixture
def conf(queue: str) -> dict[str, Any]:
    """The test's settings: a dead-letter queue, and Redis restoring unacked messages fast."""
    return base_conf(
        queue,
        events_dead_letter=True,
        broker_transport_options={
            "visibility_timeout": 2,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
    )


@pytest.fixture
def app(broker_url: str, conf: dict[str, Any]) -> Iterator[Celery]:
    """The producer app; the test's dead-letter queue is deleted afterwards."""
    found = make_app(broker_url, conf)
    yield found
    delete_dead_letter_queue(found)


def wait_for_letters(app: Celery, count: int, timeout: float = 60.0) -> list[DeadLetter]:
    """Poll the dead-letter queue until it holds `count` letters."""
    letters = DeadLetterQueue(app)
    deadline = time.monotonic() + timeout
    while len(found := letters.list()) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} dead letters, have {found}")
        time.sleep(0.2)
    return found


def texts(recorder: Recorder) -> set[str]:
    return {item["text"] for item in recorder.records("on_text")}


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_handler_that_kills_its_process_is_dead_lettered_and_the_queue_keeps_moving(
    broker_url: str,
    queue: str,
    conf: dict[str, Any],
    app: Celery,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    pool: str,
) -> None:
    if pool == "solo":
        # With a prefetch of one, a solo worker on RabbitMQ waits up to 10 s between messages
        # (Celery's, not ours: plain tasks do the same); see docs/guides/worker.md.
        conf = {**conf, "worker_prefetch_multiplier": 2}
    worker = worker_factory(broker_url, [queue], conf, pool=pool)
    emitter = CeleryEventEmitter(app)
    token = uuid.uuid4().hex
    poison = emitter.emit("itest.crash", token)
    behind = [f"behind-{number}" for number in range(BEHIND)]
    for text in behind:
        emitter.emit("itest.text", text)
    started = time.monotonic()

    workers = [worker]
    while not (texts(recorder) >= set(behind) and DeadLetterQueue(app).count()):
        assert time.monotonic() - started < 60, (texts(recorder), worker.log())
        if pool == "solo" and workers[-1].process.poll() is not None:
            workers.append(worker_factory(broker_url, [queue], conf, pool=pool))
        time.sleep(0.2)

    assert poison is not None
    [letter] = wait_for_letters(app, 1)
    assert letter.reason == "worker_lost"
    assert letter.emission_id == poison.id
    assert letter.attempts == 3
    # billiard hands a job to another child when the first died before acknowledging it
    runs_per_delivery = 2 if pool == "prefork" else 1
    assert len(recorder.records("crash")) <= 3 * runs_per_delivery
    assert texts(recorder) >= set(behind)
    assert all(CONNECTION_LOST not in each.log() for each in workers)


def raw_publish(
    broker_url: str,
    queue: str,
    body: bytes,
    headers: dict[str, Any],
    content_type: str = "application/json",
) -> None:
    """Publish `body` to the queue as it is, with only the given headers."""
    with Connection(broker_url) as connection:
        Producer(connection).publish(
            body,
            exchange=Exchange(queue, type="direct"),
            routing_key=queue,
            headers=headers,
            content_type=content_type,
            content_encoding="binary" if content_type != "application/json" else "utf-8",
        )


def push_garbage(broker: str, broker_url: str, queue: str, garbage: bytes) -> None:
    """Random bytes on the queue: pushed onto Redis' list, or published with a bogus type."""
    if broker == "redis":
        client = redis.Redis.from_url(broker_url)
        try:
            client.lpush(queue, garbage)
        finally:
            client.close()
    else:
        raw_publish(broker_url, queue, garbage, {}, content_type="application/x-garbage")


def nested(depth: int) -> bytes:
    inner = "[" * depth + "]" * depth
    return f"[[{inner}], {{}}, {{}}]".encode()


POISONS: dict[str, tuple[str, Callable[[str, str, str, Celery], None]]] = {
    "nested_1000_deep": (
        "too_deep",
        lambda broker, url, queue, app: raw_publish(
            url, queue, nested(1000), {"task": "events.execute", "id": uuid.uuid4().hex}
        ),
    ),
    "headers_without_id": (
        "malformed",
        lambda broker, url, queue, app: raw_publish(
            url, queue, json.dumps([["x"], {}, {}]).encode(), {"task": "events.execute"}
        ),
    ),
    "random_bytes": (
        "undecodable",  # RabbitMQ: "malformed", a message without headers names no task
        lambda broker, url, queue, app: push_garbage(broker, url, queue, os.urandom(4096)),
    ),
    "twenty_megabytes": (
        "too_large",
        lambda broker, url, queue, app: app.send_task(
            "events.execute", args=["x" * (20 * 1024 * 1024)], queue=queue
        ),
    ),
    "celery_accumulate": (
        "foreign",
        lambda broker, url, queue, app: app.send_task(
            "celery.accumulate", args=[1, 2], queue=queue
        ),
    ),
}


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_poison_message_is_dead_lettered_and_the_worker_goes_on(
    broker: str,
    broker_url: str,
    queue: str,
    conf: dict[str, Any],
    app: Celery,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    poison: str,
) -> None:
    reason, send = POISONS[poison]
    if poison == "random_bytes" and broker == "amqp":
        reason = "malformed"
    worker = worker_factory(broker_url, [queue], conf)

    send(broker, broker_url, queue, app)
    [letter] = wait_for_letters(app, 1)
    CeleryEventEmitter(app).emit("itest.text", "after")

    recorder.wait_for(lambda records: any(r.get("text") == "after" for r in records))
    assert letter.reason == reason
    assert worker.process.poll() is None
    log = worker.log()
    assert log.count(CONNECTION_LOST) == 0, log
    assert "Unrecoverable error" not in log
    if poison == "random_bytes":
        assert isinstance(letter.envelope, dict)
        assert letter.envelope.get("raw")


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_handler_past_its_time_limit_is_retried_then_dead_lettered(
    broker_url: str,
    queue: str,
    conf: dict[str, Any],
    app: Celery,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    pool: str,
) -> None:
    conf = {**conf, "events_handler_time_limit": 1.0}
    retry = {"ITEST_RETRY": json.dumps({"max_attempts": 2, "initial": 0.2, "factor": 1.0})}
    worker = worker_factory(broker_url, [queue], conf, env=retry, pool=pool)
    token = uuid.uuid4().hex

    CeleryEventEmitter(make_app(broker_url, conf)).emit("itest.sleepy", token, 5.0)

    [letter] = wait_for_letters(app, 1, timeout=30)
    assert letter.reason == "failed"
    assert letter.attempts == 2
    assert letter.exception_type == "events_celery.errors.HandlerTimeoutError"
    assert len(recorder.records("sleepy")) == 2
    assert recorder.records("sleepy_done") == []
    assert "retrying tests.integration.handlers:sleepy" in worker.log()


def test_an_async_handler_past_its_own_time_limit_fails(
    broker_url: str,
    queue: str,
    conf: dict[str, Any],
    app: Celery,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    worker_factory(broker_url, [queue], conf)
    token = uuid.uuid4().hex

    CeleryEventEmitter(app).emit("itest.brief", token, 3.0)

    [letter] = wait_for_letters(app, 1, timeout=30)
    assert letter.exception_type == "events_celery.errors.HandlerTimeoutError"
    assert recorder.records("brief_done") == []


def test_a_child_killed_by_the_hard_time_limit_is_requeued_not_acknowledged(
    broker_url: str,
    queue: str,
    conf: dict[str, Any],
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    conf = {**conf, "task_time_limit": 2}
    worker = worker_factory(broker_url, [queue], conf)
    token = uuid.uuid4().hex

    CeleryEventEmitter(make_app(broker_url, conf)).emit("itest.hangs_once", token)

    found = recorder.wait_for(lambda records: any(r.get("call") == 2 for r in records), timeout=45)
    assert [r["call"] for r in found if r["handler"] == "hangs_once"] == [1, 2]
    log = worker.log()
    assert "Hard time limit" in log
    assert "redelivered (delivery 2 of at most 3)" in log
