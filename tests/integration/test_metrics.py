"""Prometheus metrics scraped from a real prefork worker whose children are recycled."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from events_celery import CeleryEventEmitter
from events_celery.publisher import TASK_NAME
from tests.integration.support import (
    Recorder,
    WorkerProcess,
    base_conf,
    delete_dead_letter_queue,
    make_app,
)

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

HANDLERS = "tests.integration.handlers"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the worker's `/metrics`, by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def handled(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> Counter[str]:
    """`handler outcome` -> count, from `events_handled_total`."""
    found: Counter[str] = Counter()
    for (name, labels), count in samples.items():
        if name == "events_handled_total":
            label = dict(labels)
            found[f"{label['handler'].rpartition(':')[2]} {label['outcome']}"] += int(count)
    return found


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_prefork_worker_counts_every_outcome_once_across_recycled_children(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    port = free_port()
    worker_conf = base_conf(
        queue,
        events_dead_letter=True,
        events_metrics_port=port,
        events_metrics_address="127.0.0.1",
        worker_max_tasks_per_child=2,
    )
    retry = {"ITEST_RETRY": json.dumps({"max_attempts": 2, "initial": 0.2, "factor": 1.0})}
    worker_factory(broker_url, [queue], worker_conf, concurrency=2, env=retry)
    producer = make_app(broker_url, base_conf(queue, events_dead_letter=True, events_metrics=True))
    emitter = CeleryEventEmitter(producer)
    emitted_before = prometheus_client.REGISTRY.get_sample_value(
        "events_emitted_total", {"event": "itest.text"}
    )
    try:
        for n in range(6):
            emitter.emit("itest.text", "hello", n=n)
        for _ in range(2):
            emitter.emit("itest.flaky", uuid.uuid4().hex)
        emitter.emit("itest.doomed", uuid.uuid4().hex)
        producer.send_task(TASK_NAME, args=("not an envelope",), queue=queue)

        expected = Counter(
            {
                "on_text success": 6,
                "on_text_async success": 6,
                "flaky retry": 4,
                "flaky success": 2,
                "steady success": 2,
                "doomed retry": 1,
                "doomed dead_letter": 1,
            }
        )
        deadline = time.monotonic() + 60
        while handled(samples := scrape(port)) != expected:
            assert time.monotonic() < deadline, handled(samples)
            time.sleep(0.5)
        time.sleep(1.5)
        samples = scrape(port)
    finally:
        delete_dead_letter_queue(producer)

    assert handled(samples) == expected
    assert samples[("events_rejected_total", (("reason", "malformed"),))] == 1
    assert samples[("events_dead_letters_total", (("event", ""), ("reason", "malformed")))] == 1
    doomed = (("event", "itest.doomed"), ("reason", "failed"))
    assert samples[("events_dead_letters_total", doomed)] == 1
    timed = (("event", "itest.flaky"), ("handler", f"{HANDLERS}:flaky"))
    assert samples[("events_handler_duration_seconds_count", timed)] == 6
    pids = {item["pid"] for item in recorder.records()}
    assert len(pids) > 2  # children were recycled (2 tasks each), counts survived them
    emitted = prometheus_client.REGISTRY.get_sample_value(
        "events_emitted_total", {"event": "itest.text"}
    )
    assert emitted == (emitted_before or 0) + 6
