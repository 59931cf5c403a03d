"""Delivery guarantees: at-least-once across a killed worker, and bounded publishing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from events_celery import CeleryEventEmitter, PublishError
from events_core import EventLinker
from tests.integration.support import (
    UNREACHABLE,
    Recorder,
    WorkerProcess,
    base_conf,
    make_app,
)

VISIBILITY_TIMEOUT = 3.0
EMISSIONS = 16


def test_every_emission_is_handled_after_the_worker_is_killed_mid_handler(
    broker: str,
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    # On Redis a killed worker's messages come back once older than the visibility timeout, at
    # a sweep: at worker start, then every second here, so a slow start cannot miss one.
    options = {
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    conf = base_conf(queue, broker_transport_options=options)
    first = worker_factory(broker_url, [queue], conf, concurrency=2)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))
    # Handlers long enough that the kill lands mid-handler, not in the instant the worker
    # fetches its next messages (docs/guides/delivery.md, "the fetch window").
    for number in range(EMISSIONS):
        emitter.emit("itest.slow", number, seconds=1.5)
    recorder.wait_for(lambda records: len(records) >= 3)

    first.kill_group()
    handled_before = {item["number"] for item in recorder.records()}
    assert len(handled_before) < EMISSIONS, "the kill must happen mid-stream"
    if broker == "redis":
        time.sleep(VISIBILITY_TIMEOUT + 0.5)  # unacked messages become restorable
    worker_factory(broker_url, [queue], conf, concurrency=2)

    found = recorder.wait_for(
        lambda records: {item["number"] for item in records} == set(range(EMISSIONS)),
        timeout=90,
    )
    assert {item["number"] for item in found} == set(range(EMISSIONS))


class OnceOnly(EventLinker):
    """A namespace for the once handler below."""


def welcome(name: str) -> None:
    """A once handler; the broker is unreachable, so it never runs."""


def test_emitting_to_an_unreachable_broker_raises_publish_error_and_keeps_once_handlers(
    broker: str,
) -> None:
    OnceOnly.remove_all()
    OnceOnly.subscribe("itest.once", event_callback=welcome, once=True)
    app = make_app(UNREACHABLE[broker], base_conf("itest-unreachable"))
    emitter = CeleryEventEmitter(app, linker=OnceOnly)
    started = time.monotonic()

    with pytest.raises(PublishError, match=r"itest\.once"):
        emitter.emit("itest.once", "ada")

    assert time.monotonic() - started < 10
    assert [handler.event_callback for handler in OnceOnly.get_event_handlers("itest.once")] == [
        welcome
    ]
