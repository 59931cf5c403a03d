"""The tutorial's Celery app. Start a worker with: celery -A worker worker -l INFO -Q events"""

import event_handlers  # noqa: F401  (importing it registers the handlers)
from celery import Celery

import events_celery

app = Celery("tutorial")
app.config_from_object("celeryconfig")
events_celery.install(app)
