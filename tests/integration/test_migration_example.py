"""The migration guide's "after" files run: a worker started the Pyventus way, then main.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import require
from tests.integration.support import ROOT

EXAMPLE = ROOT / "examples" / "migrating-from-pyventus"
BROKER_URL = "redis://127.0.0.1:6379/9"
"""A Redis database of its own: the example's worker consumes `celery` and `events`, queues no
other test may share."""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for path in EXAMPLE.glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def example_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVENTS_")}
    env["EVENTS_BROKER_URL"] = BROKER_URL
    return env


@pytest.fixture
def worker(project: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    require(BROKER_URL, "redis")
    log_path = project / "worker.log"
    env = example_env()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", "-l", "INFO", "-c", "1"],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield process, log_path
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def wait_for(log_path: Path, *texts: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while not all(text in (log := log_path.read_text(errors="replace")) for text in texts):
        assert time.monotonic() < deadline, f"{texts} not logged:\n{log}"
        time.sleep(0.2)
    return log


def test_the_migrated_tutorial_runs_on_a_worker_started_without_q(
    project: Path, worker: tuple[subprocess.Popen[bytes], Path]
) -> None:
    _, log_path = worker
    wait_for(log_path, "ready.")

    subprocess.run(
        [sys.executable, "main.py"], cwd=project, env=example_env(), check=True, timeout=60
    )

    wait_for(log_path, "Sync event callback!", "Async event callback!")
