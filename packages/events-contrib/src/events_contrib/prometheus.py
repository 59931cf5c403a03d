"""The Prometheus meters of `MetricsAddon`, and `/metrics` served from a prefork worker.

Imported only once metrics are turned on. Under Celery's prefork pool the handlers run in
child processes, so a worker serving `/metrics` uses prometheus_client's multiprocess mode:
each process writes its counts to files in `PROMETHEUS_MULTIPROC_DIR`, named by pid, and the
main process sums the files on each scrape. A recycled child's file stays, so no count is
lost; a new child never reuses another's counts unless it gets the same pid, when it carries
on from them. The folder must be empty when the worker starts: the worker makes a fresh one
(and removes it on shutdown) unless `PROMETHEUS_MULTIPROC_DIR` is set, which is then the
operator's to empty.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_shutdown

from events_contrib.errors import ConfigurationError

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Folder where each process of a worker writes its counts (prometheus_client's variable)."""


@dataclass(frozen=True)
class Meters:
    """The metrics, made once per process."""

    emitted: Any
    publish: Any
    handled: Any
    duration: Any
    rejected: Any
    dead_letters: Any


_meters: Meters | None = None
_served: set[int] = set()
_made_folder: list[str] = []


def meters() -> Meters:
    """This process's meters, made on first use in prometheus_client's default registry."""
    global _meters
    if _meters is None:
        from prometheus_client import Counter, Histogram

        _meters = Meters(
            emitted=Counter("events_emitted", "Emissions published.", ["event"]),
            publish=Histogram(
                "events_publish_duration_seconds", "Seconds to seal and publish an emission."
            ),
            handled=Counter(
                "events_handled",
                "Handler runs by outcome: success, failure, retry, dead_letter.",
                ["event", "handler", "outcome"],
            ),
            duration=Histogram(
                "events_handler_duration_seconds",
                "Seconds spent in a handler and its callbacks.",
                ["event", "handler"],
            ),
            rejected=Counter(
                "events_rejected", "Messages refused before any handler ran.", ["reason"]
            ),
            dead_letters=Counter(
                "events_dead_letters", "Dead letters written, by reason.", ["event", "reason"]
            ),
        )
    return _meters


def serve_from_worker(app: Celery, port: int, address: str) -> None:
    """Serve `/metrics` on `port` from the main process of `app`'s worker, once it starts.

    Nothing happens in a process that only imports the app (a producer, `celery inspect`).
    """
    if id(app) in _served:
        return
    _served.add(id(app))

    def start(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        _prepare_folder()
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(port, addr=address, registry=registry)
        logger.info("serving /metrics on %s:%d", address, port)

    worker_init.connect(start, weak=False)
    worker_shutdown.connect(_remove_folder, weak=False)


def _prepare_folder() -> None:
    if MULTIPROC_ENV not in os.environ:
        folder = tempfile.mkdtemp(prefix="events-metrics-")
        os.environ[MULTIPROC_ENV] = folder
        _made_folder.append(folder)
    if "prometheus_client" in sys.modules and not _multiprocess():
        if _meters is not None:
            raise ConfigurationError(
                "events_metrics_port",
                f"events metrics were made before the worker started; set {MULTIPROC_ENV} to "
                f"an empty folder in the worker's environment",
            )
        # prometheus_client picks its value class when imported; the app's own code imported
        # it before the folder was set, so pick again before the first events metric is made.
        from prometheus_client import values

        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def _multiprocess() -> bool:
    from prometheus_client import values

    return bool(getattr(values.ValueClass, "_multiprocess", False))


def _remove_folder(**_: Any) -> None:
    while _made_folder:
        shutil.rmtree(_made_folder.pop(), ignore_errors=True)
