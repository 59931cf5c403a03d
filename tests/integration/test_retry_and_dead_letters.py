"""Retries, the dead-letter queue and its replay, on real brokers and workers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from events_celery import CeleryEventEmitter
from events_contrib import DeadLetterQueue
from tests.integration.support import (
    Recorder,
    WorkerProcess,
    base_conf,
    capture_envelope,
    delete_dead_letter_queue,
    make_app,
)

RETRY_ENV = {"ITEST_RETRY": json.dumps({"max_attempts": 3, "initial": 0.2, "factor": 1.0})}


@pytest.fixture
def dead_letters(broker_url: str, queue: str) -> Iterator[DeadLetterQueue]:
    """The test's dead-letter queue; deleted afterwards."""
    app = make_app(broker_url, base_conf(queue, events_dead_letter=True))
    found = DeadLetterQueue(app)
    yield found
    delete_dead_letter_queue(app)


def test_a_handler_failing_twice_is_retried_with_backoff_while_its_sibling_runs_once(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue, events_dead_letter=True)
    worker = worker_factory(broker_url, [queue], conf)
    token = uuid.uuid4().hex

    CeleryEventEmitter(make_app(broker_url, conf)).emit("itest.flaky", token)

    recorder.wait_for(lambda records: len([r for r in records if r["handler"] == "flaky"]) >= 3)
    found = recorder.settle(2.0)
    calls = [item for item in found if item["handler"] == "flaky"]
    assert [item["call"] for item in calls] == [1, 2, 3]
    assert len([item for item in found if item["handler"] == "steady"]) == 1
    first_delay = calls[1]["at"] - calls[0]["at"]
    second_delay = calls[2]["at"] - calls[1]["at"]
    assert 0.9 <= first_delay < 4.0, first_delay  # backoff 1 s, then 2 s (no jitter)
    assert 1.9 <= second_delay < 6.0, second_delay
    assert second_delay > first_delay
    log = worker.log()
    assert "retrying tests.integration.handlers:flaky in 1.0 s (attempt 2)" in log
    assert "retrying tests.integration.handlers:flaky in 2.0 s (attempt 3)" in log


def test_an_always_failing_handler_is_dead_lettered_listed_replayed_and_purged(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    dead_letters: DeadLetterQueue,
) -> None:
    conf = base_conf(queue, events_dead_letter=True)
    worker = worker_factory(broker_url, [queue], conf, env=RETRY_ENV)
    app = make_app(broker_url, conf)
    token = uuid.uuid4().hex

    emission = CeleryEventEmitter(app).emit("itest.doomed", token)

    assert emission is not None
    worker.wait_log("dead-lettered")
    assert len(recorder.records("doomed")) == 3
    first = dead_letters.list()
    second = dead_letters.list()
    assert [letter.id for letter in first] == [letter.id for letter in second]
    assert dead_letters.count() == 1
    letter = first[0]
    assert letter.emission_id == emission.id
    assert letter.event == "itest.doomed"
    assert letter.reason == "failed"
    assert letter.attempts == 3
    assert letter.queue == queue
    assert letter.handlers == ("tests.integration.handlers:doomed",)
    assert letter.exception_type == "builtins.RuntimeError"
    assert letter.failures[0].message == "doomed handler failed"
    assert "raise RuntimeError" in letter.failures[0].traceback
    assert letter.first_failure < letter.last_failure
    assert dead_letters.get(letter.id) == letter

    recorder.client.set(f"{recorder.key}:fixed", 1)
    result = dead_letters.replay([letter.id])

    assert result.replayed == [letter.id]
    recorder.wait_for(lambda records: any(r.get("fixed") for r in records))
    assert len([r for r in recorder.settle(1.0) if r["handler"] == "doomed" and r["fixed"]]) == 1
    assert dead_letters.count() == 0

    recorder.client.delete(f"{recorder.key}:fixed")
    CeleryEventEmitter(app).emit("itest.doomed", "again")
    worker.wait_log("dead-lettered", count=2)
    assert dead_letters.purge() == 1
    assert dead_letters.count() == 0


def test_a_tampered_envelope_is_dead_lettered_with_reason_signature_and_never_runs(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    dead_letters: DeadLetterQueue,
) -> None:
    conf = base_conf(queue, events_dead_letter=True, events_signing_key="k")
    worker = worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)
    sent = capture_envelope(app, "itest.text", "original", n=1)
    tampered = replace(sent, body=sent.body.replace("original", "tampered"))

    app.tasks["events.execute"].apply_async(args=(tampered.to_message(),), queue=queue)

    worker.wait_log("refused (signature) and dead-lettered")
    letters = dead_letters.list()
    assert [(letter.reason, letter.emission_id) for letter in letters] == [("signature", sent.id)]
    result = dead_letters.replay()
    assert result.skipped == [letters[0].id]
    assert "signature" in result.reasons[letters[0].id]
    assert dead_letters.count() == 1
    assert recorder.settle(0.5) == []
