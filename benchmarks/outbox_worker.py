"""The Celery app of `benchmarks/outbox.py`: its worker, and the relay's `-A outbox_worker`.

Configured from `BENCH_BROKER_URL`, `BENCH_QUEUE` and `BENCH_KEY`; the handler appends
"number handled-at" to the Redis list `BENCH_KEY`.
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

import events_celery
from events_core import EventLinker

app = Celery("bench-outbox", broker=os.environ["BENCH_BROKER_URL"])
app.conf.events_default_queue = os.environ["BENCH_QUEUE"]
app.conf.worker_prefetch_multiplier = 4
events_celery.install(app)
_client = redis.Redis.from_url(os.environ["BENCH_BROKER_URL"])


@EventLinker.on("bench.outbox")
def on_bench(number: int) -> None:
    """Record when this event was handled."""
    _client.rpush(os.environ["BENCH_KEY"], f"{number} {time.time()}")
