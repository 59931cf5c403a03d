"""The Celery app integration-test workers run: `celery -A tests.integration.worker_app worker`.

Configured from the environment the test fixture sets, so each test gets its own queue, keys
and settings.
"""

from __future__ import annotations

import json
import os

from celery import Celery
from kombu import Queue

import events_celery
from events_contrib import Backoff, RetryPolicy
from tests.integration import handlers  # noqa: F401  (registers the handlers)

app = Celery("itest", broker=os.environ["EVENTS_BROKER_URL"])
app.conf.update(json.loads(os.environ.get("ITEST_CONF", "{}")))
if "ITEST_RETRY" in os.environ:
    retry = json.loads(os.environ["ITEST_RETRY"])
    app.conf.events_retry = RetryPolicy(
        max_attempts=retry["max_attempts"],
        backoff=Backoff(initial=retry["initial"], factor=retry["factor"], jitter=False),
    )
if "ITEST_TASK_QUEUES" in os.environ:
    app.conf.task_queues = [Queue(name) for name in json.loads(os.environ["ITEST_TASK_QUEUES"])]
events_celery.install(app)
