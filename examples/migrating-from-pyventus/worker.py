"""The Celery app. Start a worker with: celery -A worker worker -l INFO"""

import os

import event_handlers  # noqa: F401  (importing it registers the handlers)
from celery import Celery

import events_celery

app = Celery("worker", broker=os.environ.get("EVENTS_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(result_expires=3600)
events_celery.install(app, signing_key=os.environ.get("EVENTS_SIGNING_KEY", "secret-key"))
