"""The worker app of `profile_single.py`: `celery -A profile_worker worker -P solo`.

A raw Celery task and our handler that do the same work (one Redis INCR of the key the
message names), on queues of their own. Once ready, the worker writes its pid to
`BENCH_PROFILE_READY` when that is set. With `BENCH_PROFILE_OUT` set, it profiles its main
thread's CPU time (cProfile with `time.thread_time`) from `worker_ready` to `worker_shutdown`
and writes the stats there; under the solo pool that thread fetches, checks and runs every
message.

Configured from the environment the driver sets: `BENCH_PROFILE_BROKER_URL` and
`BENCH_PROFILE_QUEUES` (`raw,ours`).
"""

from __future__ import annotations

import cProfile
import os
import time
from typing import Any

import redis
from celery import Celery
from celery.signals import worker_ready, worker_shutdown

import events_celery
from events_core import EventLinker

COUNTER_URL = "redis://127.0.0.1:6379/14"
EVENT = "bench.profile"
RAW_TASK = "bench.profile.raw"

_client: redis.Redis | None = None


class Profiled(EventLinker):
    """Linker used only by this benchmark."""


def count(key: str) -> None:
    """Increment `key` (one client per process)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(COUNTER_URL)
    _client.incr(key)


@Profiled.on(EVENT)
def on_event(seq: int, key: str, pad: str = "") -> None:
    """Our handler."""
    count(key)


def make_app(broker_url: str, queues: dict[str, str]) -> Celery:
    """The app of both sides: the raw task on `queues["raw"]`, ours on `queues["ours"]`."""
    app = Celery("bench-profile", broker=broker_url, set_as_current=False)
    app.conf.update(
        events_default_queue=queues["ours"],
        events_tracing=False,
        task_default_queue=queues["raw"],
        broker_connection_retry_on_startup=True,
    )

    @app.task(name=RAW_TASK, shared=False)
    def raw(seq: int, key: str, pad: str = "") -> None:
        """The raw Celery task."""
        count(key)

    events_celery.install(app)
    return app


if "BENCH_PROFILE_QUEUES" in os.environ:
    _raw, _ours = os.environ["BENCH_PROFILE_QUEUES"].split(",")
    app = make_app(os.environ["BENCH_PROFILE_BROKER_URL"], {"raw": _raw, "ours": _ours})
    _profile = cProfile.Profile(time.thread_time)

    @worker_ready.connect
    def _start(**_: Any) -> None:
        if "BENCH_PROFILE_OUT" in os.environ:
            _profile.enable()
        if "BENCH_PROFILE_READY" in os.environ:
            with open(os.environ["BENCH_PROFILE_READY"], "w") as ready:
                ready.write(str(os.getpid()))

    @worker_shutdown.connect
    def _stop(**_: Any) -> None:
        if "BENCH_PROFILE_OUT" in os.environ:
            _profile.disable()
            _profile.dump_stats(os.environ["BENCH_PROFILE_OUT"])
