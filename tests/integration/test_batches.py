"""Batches on real brokers and workers: exactly-once handling, per-emission retries and dead
letters, refusal of a tampered batch, redelivery after a killed worker, publish failures."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery

from events_celery import BatchPublishError, CeleryEventEmitter, Envelope, PublishError
from events_celery.batchwire import read_items
from events_celery.bootstrap import runtime_of
from events_contrib import DeadLetterQueue
from events_core import EventLinker
from tests.integration.brokers import PrivateRedis
from tests.integration.support import (
    UNREACHABLE,
    Recorder,
    WorkerProcess,
    base_conf,
    delete_dead_letter_queue,
    make_app,
)

VISIBILITY_TIMEOUT = 3.0


@pytest.fixture
def dead_letters(broker_url: str, queue: str) -> Iterator[DeadLetterQueue]:
    """The test's dead-letter queue; deleted afterwards."""
    app = make_app(broker_url, base_conf(queue, events_dead_letter=True))
    found = DeadLetterQueue(app)
    yield found
    delete_dead_letter_queue(app)


def numbers(records: list[dict[str, Any]], handler: str) -> Counter[int]:
    return Counter(item["number"] for item in records if item["handler"] == handler)


def test_a_thousand_emissions_in_batches_are_each_handled_exactly_once(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker_factory(broker_url, [queue], conf, concurrency=2)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))

    with emitter.batch():
        emitted = [emitter.emit("itest.batch", number) for number in range(500)]
    with emitter.batch():
        emitted += [emitter.emit("itest.batch", number) for number in range(500, 1000)]

    assert len({emission.id for emission in emitted if emission is not None}) == 1000
    recorder.wait_for(lambda records: len(records) >= 1000, timeout=60)
    assert numbers(recorder.settle(1.0), "batched") == Counter(range(1000))


def test_a_failing_handler_of_one_emission_is_retried_then_dead_lettered_alone(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    dead_letters: DeadLetterQueue,
) -> None:
    conf = base_conf(queue, events_dead_letter=True)
    worker = worker_factory(broker_url, [queue], conf)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))

    with emitter.batch():
        emitted = [emitter.emit("itest.batch.mixed", number) for number in range(6)]

    worker.wait_log("dead-lettered")
    found = recorder.settle(1.0)
    assert numbers(found, "fragile") == Counter({0: 1, 1: 1, 2: 1, 3: 3, 4: 1, 5: 1})
    assert numbers(found, "sturdy") == Counter(range(6))
    [letter] = dead_letters.list()
    assert emitted[3] is not None
    assert letter.emission_id == emitted[3].id
    assert letter.handlers == ("tests.integration.handlers:fragile",)
    assert letter.attempts == 3
    assert letter.reason == "failed"


def test_a_tampered_batch_runs_nothing_and_is_dead_lettered_as_a_signature_failure(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    dead_letters: DeadLetterQueue,
) -> None:
    conf = base_conf(queue, events_dead_letter=True, events_signing_key="k")
    worker = worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)
    sent = capture_batch(app, [("itest.batch", 1), ("itest.batch", 2)])
    tampered = Envelope(sent.id, sent.event, sent.codec, sent.body.replace("[2]", "[7]"),
                        sent.kid, sent.sig, sent.v)  # fmt: skip
    assert tampered.body != sent.body

    app.tasks["events.execute"].apply_async(args=(tampered.to_message(),), queue=queue)

    worker.wait_log("refused (signature) and dead-lettered")
    assert [(letter.reason, letter.emission_id) for letter in dead_letters.list()] == [
        ("signature", sent.id)
    ]
    assert recorder.settle(0.5) == []


def test_no_emission_of_a_batch_is_lost_when_its_worker_is_killed_mid_batch(
    broker: str,
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    options = {
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    conf = base_conf(queue, broker_transport_options=options, events_batch_size=4)
    first = worker_factory(broker_url, [queue], conf, concurrency=2)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))
    with emitter.batch():
        for number in range(16):
            emitter.emit("itest.batch", number, seconds=0.3)
    recorder.wait_for(lambda records: len(records) >= 3)

    first.kill_group()
    handled_before = set(numbers(recorder.records(), "batched"))
    assert len(handled_before) < 16, "the kill must happen mid-batch"
    if broker == "redis":
        time.sleep(VISIBILITY_TIMEOUT + 0.5)  # unacked messages become restorable
    worker_factory(broker_url, [queue], conf, concurrency=2)

    found = recorder.wait_for(
        lambda records: set(numbers(records, "batched")) == set(range(16)), timeout=90
    )
    assert set(numbers(found, "batched")) == set(range(16))


class Greeters(EventLinker):
    """A namespace for the once handler below."""


def welcome(name: str) -> None:
    """A once handler whose batch is never sent."""


def test_a_batch_the_broker_does_not_take_raises_and_puts_once_handlers_back(
    private_redis: PrivateRedis,
) -> None:
    Greeters.remove_all()
    Greeters.subscribe("itest.once", event_callback=welcome, once=True)
    Greeters.subscribe("itest.each", event_callback=welcome)
    queue = f"itest-{uuid.uuid4().hex[:12]}"
    app = make_app(private_redis.url, base_conf(queue, events_publish_timeout=1.0))
    emitter = CeleryEventEmitter(app, linker=Greeters)
    emitter.emit_many(["itest.each", "itest.each"])
    assert private_redis.client().llen(queue) == 1
    private_redis.stop()

    def block() -> None:
        with emitter.batch():
            emitter.emit("itest.once", "ada")
            emitter.emit("itest.each", "bob")
            emitter.emit("itest.each", "cy")

    with pytest.raises(BatchPublishError, match=r"3 emission\(s\) were not sent") as caught:
        block()

    assert isinstance(caught.value, PublishError)
    assert len(caught.value.not_sent) == 3
    assert [handler.event_callback for handler in Greeters.get_event_handlers("itest.once")] == [
        welcome
    ]


def test_a_batch_to_an_unreachable_broker_raises_and_puts_once_handlers_back(
    broker: str,
) -> None:
    Greeters.remove_all()
    Greeters.subscribe("itest.once", event_callback=welcome, once=True)
    emitter = CeleryEventEmitter(
        make_app(UNREACHABLE[broker], base_conf("itest-unreachable")), linker=Greeters
    )

    with pytest.raises(BatchPublishError, match=r"1 emission\(s\) were not sent"):
        emitter.emit_many(["itest.once"])

    assert [handler.event_callback for handler in Greeters.get_event_handlers("itest.once")] == [
        welcome
    ]


def capture_batch(app: Celery, emits: list[tuple[str, int]]) -> Envelope:
    """The signed batch envelope `batch()` would send for `emits`, without sending it."""
    publisher = runtime_of(app).publisher
    captured: list[Envelope] = []
    send = publisher.send
    publisher.send = lambda envelope, queue, countdown=None: captured.append(envelope)  # type: ignore[method-assign]
    emitter = CeleryEventEmitter(app)
    try:
        with emitter.batch():
            for event, number in emits:
                emitter.emit(event, number)
    finally:
        publisher.send = send  # type: ignore[method-assign]
    [envelope] = captured
    assert len(read_items(envelope.body)) == len(emits)
    return envelope
