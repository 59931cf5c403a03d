"""`load_app`: the Celery app an operator names on a command line (`-A MODULE`)."""

from __future__ import annotations

import os
import sys

from celery import Celery
from celery.app.utils import find_app

from events_celery.errors import ConfigurationError


def load_app(spec: str) -> Celery:
    """Import the Celery app named `module`, `module.attribute` or `module:attribute`.

    The current folder is importable, as with `celery -A`.

    Raises:
        ConfigurationError: the app cannot be imported, or what is named is not a Celery app.
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        app = find_app(spec.replace(":", ".", 1) if ":" in spec else spec)
    except Exception as exc:
        raise ConfigurationError("-A", f"cannot load a Celery app from {spec!r}: {exc}") from exc
    if not isinstance(app, Celery):
        raise ConfigurationError("-A", f"{spec!r} is not a Celery app")
    return app
