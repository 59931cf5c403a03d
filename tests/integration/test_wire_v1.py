"""Version-1 messages sealed by an earlier release run on today's workers, on both brokers.

Each message of `tests/fixtures/envelopes_v1.json` is published as it was stored, byte for
byte (its signature covers the emission id), to a worker holding the fixture's key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery

from events_celery.publisher import TASK_NAME
from tests.integration.support import Recorder, WorkerProcess, base_conf, make_app

FIXTURE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "envelopes_v1.json").read_text(encoding="utf-8")
)
MESSAGES: dict[str, dict[str, Any]] = FIXTURE["messages"]


def publish(app: Celery, name: str, queue: str) -> None:
    """Send a stored message as the task's argument, untouched, under a fresh task id."""
    app.send_task(TASK_NAME, args=(MESSAGES[name],), queue=queue)


def test_v1_json_messages_run_their_handlers_on_a_worker_with_the_key(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue, events_signing_key=FIXTURE["key"])
    worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)

    for name in ("text_kwargs", "class_nested", "retry_meta"):
        publish(app, name, queue)

    found = recorder.wait_for(lambda records: len(records) >= 4)
    assert len(recorder.settle(1.0)) == 4
    texts = sorted((item["handler"], item["text"], item["n"]) for item in found if "text" in item)
    assert texts == [
        ("on_text", "héllo", 7),
        ("on_text", "retried", 2),
        ("on_text_async", "héllo", 7),
    ]
    (shipment,) = recorder.records("on_shipment")
    assert shipment["shipment_id"] == "12345678-1234-5678-1234-567812345678"
    assert shipment["shipped_at"] == "2024-06-10T08:30:15.250000+00:00"
    assert shipment["value"] == "1234.50"
    assert shipment["types"] == ["datetime", "Decimal"]
    assert shipment["parcel_type"] == "Parcel"
    assert shipment["items"] == [["Item", "pen", 2], ["Item", "ink", 1]]
    assert shipment["dimensions"] == ["tuple", 30, 20, 10]


def test_a_v1_pickle_message_runs_on_a_worker_that_opted_into_pickle(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue, events_signing_key=FIXTURE["key"], events_serializer="pickle")
    worker_factory(broker_url, [queue], conf)

    publish(make_app(broker_url, conf), "pickle", queue)

    (parcel,) = recorder.wait_for(lambda records: len(records) >= 1)
    assert (parcel["handler"], parcel["type"], parcel["parcel_id"]) == ("on_parcel", "Parcel", 9)
    assert parcel["items"] == [["cup", 3]]
    assert len(recorder.settle(1.0)) == 1
