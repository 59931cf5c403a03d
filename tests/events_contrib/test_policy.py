"""The failure policy run in-process: only failed handlers retried, the rest dead-lettered."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Reject
from kombu import Connection

import events_celery
import events_celery.bootstrap
from events_celery import CeleryEventEmitter, PublishError
from events_celery.body import Body, Meta
from events_contrib import Backoff, DeadLetterQueue, RetryPolicy, retry
from events_core import EventLinker
from events_core.emission import new_emission_id

CALLS: list[str] = []


class Flow(EventLinker):
    """Handlers of these tests."""


def succeeds(value: int) -> None:
    CALLS.append("succeeds")


def fails(value: int) -> None:
    CALLS.append("fails")
    raise ValueError("always")


@retry(max_attempts=5, give_up_on=KeyError)
def gives_up(value: int) -> None:
    CALLS.append("gives_up")
    raise KeyError("no retry for this")


Flow.subscribe("flow.mixed", event_callback=succeeds)
Flow.subscribe("flow.mixed", event_callback=fails)
Flow.subscribe("flow.give_up", event_callback=gives_up)


@pytest.fixture
def app() -> Celery:
    CALLS.clear()
    app = Celery("policy-test", broker="memory://")
    app.conf.update(
        events_default_queue=f"flow-{uuid.uuid4().hex[:8]}",
        events_dead_letter=True,
        events_retry=RetryPolicy(max_attempts=2, backoff=Backoff(initial=7.0, jitter=False)),
    )
    events_celery.install(app)
    return app


def take(app: Celery, queue: str) -> dict[str, Any]:
    """Consume the next task message from `queue`; return its envelope and headers."""
    with Connection(app.conf.broker_url) as connection, connection.channel() as channel:
        from kombu import Queue

        message = Queue(queue).bind(channel).get(no_ack=True)
        assert message is not None, f"nothing in {queue}"
        args, _, _ = message.decode()
        return {"envelope": args[0], "headers": message.headers}


def run(app: Celery, envelope: dict[str, Any]) -> Any:
    return app.tasks["events.execute"].apply(args=(envelope,))


def test_a_failed_handler_is_retried_alone_with_the_next_attempt_and_the_backoff(
    app: Celery,
) -> None:
    emission = CeleryEventEmitter(app, linker=Flow).emit("flow.mixed", 1)
    assert emission is not None
    first = run(app, take(app, app.conf.events_default_queue)["envelope"])

    assert first.state == "RETRY"
    assert CALLS == ["succeeds", "fails"]
    retried = take(app, app.conf.events_default_queue)
    body = json.loads(retried["envelope"]["body"])
    assert retried["envelope"]["id"] == emission.id
    assert body["handlers"] == ["tests.events_contrib.test_policy:fails"]
    assert body["meta"]["attempt"] == 2
    assert body["meta"]["first_failure"] is not None
    assert retried["headers"]["eta"] is not None

    second = run(app, retried["envelope"])

    assert CALLS == ["succeeds", "fails", "fails"]
    assert second.state == "REJECTED"
    letters = DeadLetterQueue(app).list()
    assert [(letter.reason, letter.attempts, letter.handlers) for letter in letters] == [
        ("failed", 2, ("tests.events_contrib.test_policy:fails",))
    ]
    assert letters[0].first_failure.timestamp() == pytest.approx(body["meta"]["first_failure"])


def test_give_up_on_exceptions_are_dead_lettered_at_once(app: Celery) -> None:
    CeleryEventEmitter(app, linker=Flow).emit("flow.give_up", 1)

    result = run(app, take(app, app.conf.events_default_queue)["envelope"])

    assert result.state == "REJECTED"
    assert CALLS == ["gives_up"]
    (letter,) = DeadLetterQueue(app).list()
    assert letter.attempts == 1
    assert letter.exception_type == "builtins.KeyError"


def test_a_replayed_letter_runs_its_failed_handlers_from_attempt_one(app: Celery) -> None:
    CeleryEventEmitter(app, linker=Flow).emit("flow.give_up", 1)
    run(app, take(app, app.conf.events_default_queue)["envelope"])
    queue = DeadLetterQueue(app)
    (letter,) = queue.list()

    elsewhere = f"elsewhere-{uuid.uuid4().hex[:8]}"
    result = queue.replay(queue=elsewhere)

    assert result.replayed == [letter.id]
    assert queue.count() == 0
    replayed = take(app, elsewhere)["envelope"]
    body = json.loads(replayed["body"])
    assert replayed["id"] == letter.emission_id
    assert body["handlers"] == list(letter.handlers)
    assert body["meta"]["attempt"] == 1
    assert body["meta"]["replayed_from"] == letter.id


def test_when_the_retry_cannot_be_published_the_delivery_is_requeued_whole(
    app: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    CeleryEventEmitter(app, linker=Flow).emit("flow.mixed", 1)
    envelope = take(app, app.conf.events_default_queue)["envelope"]
    runtime = events_celery.bootstrap.runtime_of(app)

    def broker_down(*args: object, **kwargs: object) -> None:
        raise PublishError("flow.mixed", "flow", ConnectionRefusedError("down"))

    monkeypatch.setattr(runtime.publisher, "send", broker_down)
    result = run(app, envelope)

    assert result.state == "REJECTED"
    assert isinstance(result.result, Reject)
    assert result.result.requeue is True


def test_a_signed_message_whose_meta_is_out_of_bounds_is_dead_lettered_not_lost(
    app: Celery,
) -> None:
    app.conf.events_signing_key = "policy-key"
    runtime = events_celery.install(app)
    body = Body(
        kind="name",
        linker=Flow.path(),
        handlers=(f"{__name__}:succeeds",),
        timestamp=1718000000.0,
        headers={},
        meta=Meta(attempt=2, queue=app.conf.events_default_queue, first_failure=1e300),
        args=(1,),
        kwargs={},
    )
    envelope = runtime.publisher.seal(new_emission_id(), "flow.mixed", body)

    result = run(app, envelope.to_message())

    assert result.state == "REJECTED"
    [letter] = DeadLetterQueue(app).list()
    assert (letter.emission_id, letter.reason) == (envelope.id, "undecodable")
    assert CALLS == []


def test_any_error_while_dead_lettering_requeues_the_message(
    app: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    CeleryEventEmitter(app, linker=Flow).emit("flow.give_up", 1)
    envelope = take(app, app.conf.events_default_queue)["envelope"]

    def broken(*args: object, **kwargs: object) -> None:
        raise OverflowError("a bug in the failure path")

    monkeypatch.setattr(DeadLetterQueue, "add", broken)
    result = run(app, envelope)

    assert result.state == "REJECTED"
    assert isinstance(result.result, Reject)
    assert result.result.requeue is True
