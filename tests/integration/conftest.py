"""Fixtures for tests against real Redis and RabbitMQ on 127.0.0.1.

A missing service skips the tests locally and fails them when CI is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.brokers import private_rabbit, private_redis  # noqa: F401  (fixtures)
from tests.integration.handlers import REDIS_URL
from tests.integration.support import BROKERS, Recorder, WorkerProcess, reachable, start_worker

pytestmark = pytest.mark.integration


def require(url: str, name: str) -> None:
    """Skip (locally) or fail (in CI) when the service at `url` is down."""
    if reachable(url):
        return
    message = f"{name} is not reachable at {url}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> str:
    """The broker kind of this run: 'amqp' or 'redis'."""
    require(BROKERS[request.param], request.param)
    require(REDIS_URL, "redis (recorder)")
    return str(request.param)


@pytest.fixture
def broker_url(broker: str) -> str:
    return BROKERS[broker]


@pytest.fixture
def queue() -> str:
    """A queue name no other test uses."""
    return f"itest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    require(REDIS_URL, "redis (recorder)")
    found = Recorder(f"itest:records:{uuid.uuid4().hex}")
    yield found
    found.client.delete(found.key)
    found.client.close()


@pytest.fixture
def worker_factory(tmp_path: Path, recorder: Recorder) -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers for a test; every one is stopped by pid when the test ends."""
    started: list[WorkerProcess] = []

    def start(
        broker_url: str,
        queues: list[str],
        conf: dict[str, Any],
        *,
        concurrency: int = 1,
        ready: bool = True,
        env: dict[str, str] | None = None,
        app_module: str = "tests.integration.worker_app",
        pool: str | None = None,
    ) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(started)}.log"
        worker = start_worker(
            broker_url,
            queues,
            conf,
            recorder.key,
            log_path,
            concurrency,
            app_module=app_module,
            extra_env=env,
            pool=pool,
        )
        started.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()
    for worker in started:
        # Shown by pytest only when the test failed: what each worker logged last.
        print(f"--- {worker.log_path.name} ---")
        print("\n".join(worker.log().splitlines()[-80:]))
