"""The tutorial's optional last step: `celery -A telemetry worker` prints spans, serves metrics."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.brokers import free_port
from tests.integration.support import ROOT, WorkerProcess
from tests.integration.test_metrics import scrape

pytest.importorskip("opentelemetry.sdk")

EXAMPLE = ROOT / "examples" / "tutorial"


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_the_telemetry_app_prints_handler_spans_and_counts_every_handler_run(
    broker_url: str, queue: str, tmp_path: Path, worker_factory: Callable[..., WorkerProcess]
) -> None:
    for path in EXAMPLE.glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    port = free_port()
    env = {
        "EVENTS_DEFAULT_QUEUE": queue,
        "EVENTS_METRICS_PORT": str(port),
        "PYTHONPATH": f"{tmp_path}:{ROOT}",
    }
    worker = worker_factory(
        broker_url, [queue], {}, concurrency=2, env=env, app_module="telemetry"
    )

    producer = subprocess.run(
        [sys.executable, "main.py", "30"],
        cwd=tmp_path,
        env={**producer_env(broker_url), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert producer.returncode == 0, producer.stdout + producer.stderr
    log = worker.wait_log('"name": "handle event_handlers:send_welcome_mail"', count=10)
    assert '"name": "process UserSignedUp"' in log
    samples = scrape(port)
    runs: Counter[str] = Counter()
    for (name, labels), count in samples.items():
        if name == "events_handled_total" and dict(labels)["outcome"] == "success":
            runs[dict(labels)["handler"]] += int(count)
    assert runs == {
        "event_handlers:send_receipt": 20,  # OrderPlaced and ExpressOrderPlaced
        "event_handlers:book_courier": 10,
        "event_handlers:send_welcome_mail": 10,
    }


def producer_env(broker_url: str) -> dict[str, str]:
    """The producer's environment: this one's, with the broker and no other `EVENTS_` value."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVENTS_")}
    env["EVENTS_BROKER_URL"] = broker_url
    return env
