"""Build and run a worker without a `worker.py`, from options and `EVENTS_*` variables."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence

from celery import Celery

from events_celery.bootstrap import install
from events_celery.errors import ConfigurationError

ENV_BROKER_URL = "EVENTS_BROKER_URL"
"""Broker URL when `-b` is not given, e.g. `redis://127.0.0.1:6379/0` or `amqp://...`."""

ENV_RESULT_BACKEND = "EVENTS_RESULT_BACKEND"
"""Optional Celery result backend URL."""

ENV_SIGNING_KEY = "EVENTS_SIGNING_KEY"
"""Signing key; several keys separated by commas rotate (sign with the first, accept any)."""

ENV_SERIALIZER = "EVENTS_SERIALIZER"
"""`json` (default) or `pickle` (needs a signing key)."""

ENV_DEFAULT_QUEUE = "EVENTS_DEFAULT_QUEUE"
"""Default queue name (default `events`)."""


def app_from_environment(
    broker: str | None = None, environ: Mapping[str, str] = os.environ
) -> Celery:
    """Make a Celery app configured from `EVENTS_*` variables, with events installed.

    Raises:
        ConfigurationError: no broker URL, or an invalid setting.
    """
    broker = broker or environ.get(ENV_BROKER_URL)
    if not broker:
        raise ConfigurationError(
            ENV_BROKER_URL, "no broker URL: pass -b URL or set the environment variable"
        )
    app = Celery("events", broker=broker, backend=environ.get(ENV_RESULT_BACKEND) or None)
    keys = [key.strip() for key in environ.get(ENV_SIGNING_KEY, "").split(",") if key.strip()]
    install(
        app,
        signing_key=keys or None,
        serializer=environ.get(ENV_SERIALIZER) or None,
        default_queue=environ.get(ENV_DEFAULT_QUEUE) or None,
    )
    return app


def import_handlers(modules: Sequence[str]) -> None:
    """Import the modules that register handlers (named by the operator, never a message)."""
    if not modules:
        raise ConfigurationError("--handlers", "name at least one module that registers handlers")
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # any failure of the operator's module stops the start
            raise ConfigurationError(
                "--handlers", f"cannot import {module!r}: {type(exc).__name__}: {exc}"
            ) from exc


def worker_argv(
    queues: Sequence[str],
    concurrency: int | None = None,
    loglevel: str = "INFO",
    platform: str = sys.platform,
) -> list[str]:
    """Arguments for Celery's `worker` command; the solo pool on Windows."""
    argv = ["worker", "-l", loglevel, "-Q", ",".join(queues)]
    if concurrency is not None:
        argv += ["-c", str(concurrency)]
    if platform == "win32":
        argv.append("--pool=solo")
    return argv


def run_worker(
    app: Celery,
    queues: Sequence[str] | None = None,
    concurrency: int | None = None,
    loglevel: str = "INFO",
) -> None:
    """Run Celery's worker for `app`, consuming `queues` (default: the default queue)."""
    from events_celery.bootstrap import runtime_of

    queues = list(queues or [runtime_of(app).settings.default_queue])
    app.worker_main(argv=worker_argv(queues, concurrency, loglevel))
