"""Routing events to queues by name, from settings and from a TOML file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from events_celery import CeleryEventEmitter
from tests.integration.support import Recorder, WorkerProcess, base_conf, make_app


@pytest.mark.parametrize("source", ["settings", "toml"])
def test_routed_events_are_consumed_only_by_the_worker_of_their_queue(
    source: str,
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    orders = f"{queue}-orders"
    routes: object = {"itest.routed.*": orders}
    if source == "toml":
        path = tmp_path / "routes.toml"
        path.write_text(f'[routes]\n"itest.routed.*" = {{ queue = "{orders}" }}\n')
        routes = str(path)
    conf = base_conf(queue, events_routes=routes)
    worker_factory(broker_url, [orders], conf, env={"ITEST_WORKER_NAME": "orders"})
    worker_factory(broker_url, [queue], conf, env={"ITEST_WORKER_NAME": "default"})
    emitter = CeleryEventEmitter(make_app(broker_url, conf))

    for number in range(3):
        emitter.emit("itest.routed.order", f"order-{number}")
        emitter.emit("itest.unrouted", f"other-{number}")

    found = recorder.wait_for(lambda records: len(records) >= 6)
    assert len(recorder.settle(0.5)) == 6
    by_worker = {item["label"]: item["worker"] for item in found}
    assert {label: by_worker[label] for label in by_worker if label.startswith("order")} == {
        f"order-{n}": "orders" for n in range(3)
    }
    assert {label: by_worker[label] for label in by_worker if label.startswith("other")} == {
        f"other-{n}": "default" for n in range(3)
    }


def test_an_emitter_queue_wins_over_the_routes(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue, events_routes={"itest.routed.*": f"{queue}-nobody"})
    worker_factory(broker_url, [queue], conf, env={"ITEST_WORKER_NAME": "default"})

    CeleryEventEmitter(make_app(broker_url, conf), queue=queue).emit("itest.routed.order", "x")

    found = recorder.wait_for(lambda records: len(records) >= 1)
    assert found[0]["worker"] == "default"
