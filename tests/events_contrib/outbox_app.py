"""The Celery app of the `events-outbox` command-line unit tests."""

from __future__ import annotations

from celery import Celery

import events_celery

app = Celery("outbox-cli-test", broker="memory://", set_as_current=False)
app.conf.events_default_queue = "utest-outbox-cli"
events_celery.install(app)
