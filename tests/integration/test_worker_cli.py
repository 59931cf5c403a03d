"""`events-celery worker` runs handlers with no worker.py, configured from EVENTS_* variables."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from events_celery import CeleryEventEmitter
from tests.integration.handlers import RECORD_KEY_ENV
from tests.integration.support import ROOT, Recorder, WorkerProcess, base_conf, make_app


@pytest.fixture
def cli_worker(
    broker_url: str, queue: str, recorder: Recorder, tmp_path: Path
) -> Iterator[WorkerProcess]:
    executable = shutil.which("events-celery")
    assert executable, "events-celery is not installed"
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVENTS_")}
    env.update(
        {
            "EVENTS_SIGNING_KEY": "new-key,old-key",
            "EVENTS_DEFAULT_QUEUE": queue,
            RECORD_KEY_ENV: recorder.key,
            "PYTHONPATH": str(ROOT),
        }
    )
    log_path = tmp_path / "cli-worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "worker", "--handlers", "tests.integration.handlers", "-b", broker_url,
             "-c", "1", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker = WorkerProcess(process, log_path)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def test_the_cli_worker_consumes_the_default_queue_and_checks_signatures(
    broker_url: str, queue: str, recorder: Recorder, cli_worker: WorkerProcess
) -> None:
    signed_with_old_key = make_app(broker_url, base_conf(queue, events_signing_key="old-key"))
    unsigned = make_app(broker_url, base_conf(queue))

    CeleryEventEmitter(signed_with_old_key).emit("itest.text", "via cli", n=5)
    CeleryEventEmitter(unsigned).emit("itest.text", "unsigned", n=6)

    found = recorder.wait_for(lambda records: len(records) >= 2)
    cli_worker.wait_log("refused (signature)")
    assert {item["text"] for item in recorder.settle(0.5)} == {"via cli"}
    assert {item["handler"] for item in found} == {"on_text", "on_text_async"}


def test_the_cli_refuses_to_start_without_a_broker_or_with_a_missing_module() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVENTS_")}
    no_broker = subprocess.run(
        ["events-celery", "worker", "--handlers", "tests.integration.handlers"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    missing = subprocess.run(
        ["events-celery", "worker", "--handlers", "no_such_handlers", "-b", "memory://"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert no_broker.returncode == 2
    assert "EVENTS_BROKER_URL" in no_broker.stderr
    assert missing.returncode == 2
    assert "no_such_handlers" in missing.stderr


def test_the_cli_imports_handler_modules_from_the_current_folder(
    broker_url: str, queue: str, tmp_path: Path
) -> None:
    (tmp_path / "local_handlers.py").write_text(
        "from events_core import EventLinker\n\n"
        "@EventLinker.on('itest.local')\n"
        "def local(text):\n"
        "    print(f'local handler got {text}')\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVENTS_")}
    env["EVENTS_DEFAULT_QUEUE"] = queue
    env.pop("PYTHONPATH", None)
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["events-celery", "worker", "--handlers", "local_handlers", "-b", broker_url],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker = WorkerProcess(process, log_path)
    try:
        worker.wait_ready()
        producer = make_app(broker_url, base_conf(queue))
        CeleryEventEmitter(producer, resolve="worker").emit("itest.local", "hi")
        assert "local handler got hi" in worker.wait_log("local handler got hi")
    finally:
        worker.stop()
