"""`events-celery health`: exit 0 with a live worker on the queue, non-zero without one."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from tests.integration.support import ROOT, WorkerProcess, base_conf, worker_env


def health(broker_url: str, queue: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "events_celery.cli", "health",
        "-A", "tests.integration.worker_app", "--queue", queue, "--timeout", str(timeout),
    ]  # fmt: skip
    return subprocess.run(
        command,
        cwd=ROOT,
        env=worker_env(broker_url, base_conf(queue), "unused"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_health_exits_0_and_names_the_worker_that_consumes_the_queue(
    broker_url: str, queue: str, worker_factory: Callable[..., WorkerProcess]
) -> None:
    worker_factory(broker_url, [queue], base_conf(queue))

    checked = health(broker_url, queue, timeout=5)

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("healthy: itest-")
    assert f"consume {queue!r}" in checked.stdout


def test_health_without_a_worker_on_the_queue_fails_within_its_timeout(
    broker_url: str, queue: str
) -> None:
    started = time.monotonic()

    checked = health(broker_url, queue, timeout=2)

    assert checked.returncode == 1
    assert checked.stderr.startswith("events-celery: unhealthy: ")
    assert checked.stderr.count("\n") == 1
    assert time.monotonic() - started < 30
