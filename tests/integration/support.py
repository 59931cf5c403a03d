"""Helpers for integration tests: apps, worker processes and the Redis recorder."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from celery import Celery

import events_celery
from events_celery import CeleryEventEmitter, Envelope
from events_celery.bootstrap import runtime_of
from events_contrib import DeadLetterQueue
from tests.integration.handlers import RECORD_KEY_ENV, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}
UNREACHABLE = {
    "redis": "redis://127.0.0.1:1/0",
    "amqp": "amqp://guest:guest@127.0.0.1:1//",
}


def reachable(url: str) -> bool:
    """Whether something listens at the host and port of `url`."""
    parsed = urlsplit(url)
    try:
        with socket.create_connection((parsed.hostname or "", parsed.port or 0), timeout=1):
            return True
    except OSError:
        return False


def base_conf(queue: str, **extra: Any) -> dict[str, Any]:
    """Settings shared by a test's producer app and its worker."""
    conf: dict[str, Any] = {
        "events_default_queue": queue,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queue,
    }
    conf.update(extra)
    return conf


def worker_env(broker_url: str, conf: dict[str, Any], record_key: str) -> dict[str, str]:
    """The environment `tests.integration.worker_app` reads its configuration from."""
    env = dict(os.environ)
    env.update(
        {
            "EVENTS_BROKER_URL": broker_url,
            "ITEST_CONF": json.dumps(conf),
            RECORD_KEY_ENV: record_key,
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        }
    )
    return env


def make_app(broker_url: str, conf: dict[str, Any]) -> Celery:
    """A producer app configured like the test's worker."""
    app = Celery(f"producer-{uuid.uuid4().hex[:6]}", broker=broker_url)
    app.conf.update(conf)
    events_celery.install(app)
    return app


def capture_envelope(app: Celery, event: str, *args: Any, **kwargs: Any) -> Envelope:
    """The signed envelope `CeleryEventEmitter(app).emit(...)` would send, without sending it."""
    publisher = runtime_of(app).publisher
    captured: list[Envelope] = []
    send = publisher.send
    publisher.send = lambda envelope, queue, countdown=None: captured.append(envelope)  # type: ignore[method-assign]
    try:
        CeleryEventEmitter(app).emit(event, *args, **kwargs)
    finally:
        publisher.send = send  # type: ignore[method-assign]
    return captured[0]


def delete_dead_letter_queue(app: Celery) -> None:
    """Purge and delete an app's dead-letter queue, so a test leaves nothing on the broker."""
    letters = DeadLetterQueue(app)
    letters.purge()
    with app.connection_for_write() as connection:
        letters._queue.bind(connection.default_channel).delete()


@dataclass
class Recorder:
    """Reads what handlers recorded in Redis for one test."""

    key: str
    client: redis.Redis = field(default_factory=lambda: redis.Redis.from_url(REDIS_URL))

    def records(self, handler: str | None = None) -> list[dict[str, Any]]:
        """Every record so far, optionally of one handler only."""
        raw = self.client.lrange(self.key, 0, -1)
        found = [json.loads(item) for item in raw]
        return [item for item in found if handler is None or item["handler"] == handler]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Poll the records until `predicate` holds; fail the test after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.records()
            if predicate(found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for records; have {found}")
            time.sleep(0.05)

    def settle(self, seconds: float = 1.5) -> list[dict[str, Any]]:
        """Wait a little and return the records, to check that nothing more arrives."""
        time.sleep(seconds)
        return self.records()


@dataclass
class WorkerProcess:
    """A `celery worker` subprocess, in its own process group, logging to a file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.log():
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready after {timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def wait_log(self, text: str, timeout: float = 30.0, count: int = 1) -> str:
        """Wait until `text` appears `count` times in the log; return the log."""
        deadline = time.monotonic() + timeout
        while (log := self.log()).count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged after {timeout} s:\n{log}")
            time.sleep(0.1)
        return log

    def kill_group(self) -> None:
        """SIGKILL the worker and its pool processes at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop by pid: warm shutdown, then SIGKILL of the group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=30)


def start_worker(
    broker_url: str,
    queues: list[str],
    conf: dict[str, Any],
    record_key: str,
    log_path: Path,
    concurrency: int = 1,
    app_module: str = "tests.integration.worker_app",
    extra_env: dict[str, str] | None = None,
    pool: str | None = None,
) -> WorkerProcess:
    """Start a worker consuming `queues` (no `-Q` when empty) with the given settings (and
    pool, if given)."""
    env = worker_env(broker_url, conf, record_key)
    env.update(extra_env or {})
    command = [
        sys.executable, "-m", "celery", "-A", app_module, "worker", "-l", "INFO",
        "-c", str(concurrency), "-n", f"itest-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    if queues:
        command += ["-Q", ",".join(queues)]
    if pool is not None:
        command += ["-P", pool]
    log = log_path.open("wb")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    return WorkerProcess(process, log_path)
