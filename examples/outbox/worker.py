"""The shop's Celery app. Worker: celery -A worker worker -l INFO; relay: see README.md."""

import os

from celery import Celery

import events_celery

app = Celery("shop", broker=os.environ.get("EVENTS_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.events_default_queue = os.environ.get("EVENTS_DEFAULT_QUEUE", "shop-events")
events_celery.install(app)

import event_handlers  # noqa: E402, F401  (registers the handlers; they use the app's tables)
