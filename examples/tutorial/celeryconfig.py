"""Celery settings of the tutorial, read by `app.config_from_object("celeryconfig")`.

With `EVENTS_BROKER_URL` unset, an embedded broker keeps messages in files under a folder
(`EVENTS_DEMO_FOLDER`, default a temporary one): good for trying things, but it cannot survive a
killed worker. Set `EVENTS_BROKER_URL=redis://127.0.0.1:6379/0` or
`EVENTS_BROKER_URL=amqp://guest:guest@127.0.0.1:5672//` for a real broker.
"""

import os
import tempfile

broker_url = os.environ.get("EVENTS_BROKER_URL") or "filesystem://"

if broker_url.startswith("filesystem://"):
    _folder = os.environ.get("EVENTS_DEMO_FOLDER") or os.path.join(
        tempfile.gettempdir(), "events-tutorial"
    )
    for _sub in ("queue", "processed", "results", "control"):
        os.makedirs(os.path.join(_folder, _sub), exist_ok=True)
    broker_transport_options = {
        "data_folder_in": os.path.join(_folder, "queue"),
        "data_folder_out": os.path.join(_folder, "queue"),
        "processed_folder": os.path.join(_folder, "processed"),
        "control_folder": os.path.join(_folder, "control"),
        "store_processed": False,
    }
    result_backend = "file://" + os.path.join(_folder, "results")
elif broker_url.startswith("redis://"):
    result_backend = broker_url
else:
    result_backend = "rpc://"

# Signing is optional; set the same key on producers and workers to turn it on.
events_signing_key = os.environ.get("EVENTS_SIGNING_KEY") or None
events_default_queue = os.environ.get("EVENTS_DEFAULT_QUEUE") or "events"
