"""The worker app of `celery_e2e.py`: `celery -A celery_e2e_worker worker`.

One app serves the four cases, each on a queue of its own: a raw Celery task, our
`events.execute` (single emits and batches), and Pyventus 0.6's executing task. Every handler
does the same thing: it notes when it started (`time.time()`) in the Redis list its message
names, so the benchmark knows when the last one ran and how long each waited.

Configured from the environment the benchmark sets: `BENCH_E2E_BROKER_URL` and
`BENCH_E2E_QUEUES` (`raw,ours,pyventus` queue names, comma-separated).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import redis
from celery import Celery

import events_celery
from events_core import EventLinker

RECORDS_URL = "redis://127.0.0.1:6379/14"
EVENT = "bench.e2e"
RAW_TASK = "bench.e2e.raw"

_client: redis.Redis | None = None


class E2E(EventLinker):
    """Linker used only by this benchmark."""


def note(seq: int, key: str) -> None:
    """Append `seq` and the time now to the Redis list `key` (one client per process)."""
    started = time.time()
    global _client
    if _client is None or getattr(_client, "_pid", None) != os.getpid():
        _client = redis.Redis.from_url(RECORDS_URL)
        _client._pid = os.getpid()  # type: ignore[attr-defined]
    _client.rpush(key, f"{seq} {started!r}")


@E2E.on(EVENT)
def on_e2e(seq: int, key: str) -> None:
    """Our handler, for single emits and batches alike."""
    note(seq, key)


def on_pyventus(seq: int, key: str) -> None:
    """Pyventus's handler (subscribed on Pyventus's own linker by `pyventus_emitter`)."""
    note(seq, key)


def make_app(broker_url: str, queues: dict[str, str]) -> Celery:
    """The app of both sides: the raw task, our task, and Pyventus's queue registered."""
    app = Celery("bench-e2e", broker=broker_url, set_as_current=False)
    app.conf.update(
        events_default_queue=queues["ours"],
        # Like with like: raw Celery and Pyventus trace nothing, so neither does ours here
        # (events-contrib's tracing is on whenever opentelemetry-api is installed, as it is
        # in the bench env; `bench:observability` measures what it costs).
        events_tracing=False,
        task_default_queue=queues["raw"],
        # Pyventus 0.6 refuses to start unless pickle is accepted (its payload is a pickle,
        # carried as bytes in a JSON message); our queue's messages stay JSON.
        accept_content=["json", "application/x-python-serialize"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
    )

    @app.task(name=RAW_TASK, shared=False)
    def raw(seq: int, key: str) -> None:
        """The raw Celery task."""
        note(seq, key)

    events_celery.install(app)
    return app


def pyventus_emitter(app: Celery, queue: str) -> Any:
    """Pyventus 0.6's `CeleryEventEmitter` on `queue`, with `on_pyventus` subscribed."""
    import pyventus
    from pyventus.emitters.celery import CeleryEventEmitter as PyventusCeleryEmitter

    if not pyventus.__version__.startswith("0.6"):
        raise RuntimeError(f"pyventus 0.6 is the baseline, found {pyventus.__version__}")

    class Linker(pyventus.EventLinker):
        pass

    Linker.subscribe(EVENT, event_callback=on_pyventus)
    with warnings.catch_warnings():
        # Pyventus registers its task as shared under one name for every app: a producer
        # measuring two brokers makes two apps, and only sends to the task by name.
        warnings.simplefilter("ignore")
        pyventus_queue = PyventusCeleryEmitter.Queue(celery=app, name=queue)
    return PyventusCeleryEmitter(queue=pyventus_queue, event_linker=Linker)


if "BENCH_E2E_QUEUES" in os.environ:
    _raw, _ours, _pyventus = os.environ["BENCH_E2E_QUEUES"].split(",")
    app = make_app(
        os.environ["BENCH_E2E_BROKER_URL"], {"raw": _raw, "ours": _ours, "pyventus": _pyventus}
    )
    pyventus_emitter(app, _pyventus)
