"""The `events-celery` command line: `worker --handlers MODULE [...]` and `health -A MODULE`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from events_celery.__about__ import __version__
from events_celery.errors import ConfigurationError
from events_celery.health import check_health
from events_celery.loading import load_app
from events_celery.worker import app_from_environment, import_handlers, run_worker

OK, UNHEALTHY, USAGE = 0, 1, 2

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `events-celery`."""
    parser = argparse.ArgumentParser(
        prog="events-celery",
        description="Run a Celery worker for events without writing a worker.py, or check "
        "that workers answer.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser(
        "worker",
        help="start a worker",
        description="Start a Celery worker that executes the handlers of the given modules. "
        "Settings come from EVENTS_* environment variables (EVENTS_BROKER_URL, "
        "EVENTS_SIGNING_KEY, EVENTS_SERIALIZER, EVENTS_DEFAULT_QUEUE, EVENTS_RESULT_BACKEND).",
    )
    worker.add_argument(
        "--handlers",
        action="append",
        required=True,
        metavar="MODULE",
        help="module that registers handlers (repeat or separate with commas)",
    )
    worker.add_argument("-b", "--broker", help="broker URL (default: $EVENTS_BROKER_URL)")
    worker.add_argument(
        "-Q", "--queues", help="comma-separated queues to consume (default: the default queue)"
    )
    worker.add_argument("-c", "--concurrency", type=int, help="number of worker processes")
    worker.add_argument("-l", "--loglevel", default="INFO", help="log level (default INFO)")
    health = commands.add_parser(
        "health",
        help="check that a worker consuming the events queue answers",
        description="Exit 0 and list the nodes when at least one worker that consumes the "
        "queue answers; exit 1 with a one-line reason otherwise (2: bad usage). For container "
        "liveness and readiness probes.",
    )
    health.add_argument("-A", "--app", required=True, help="the Celery app (module[:attribute])")
    health.add_argument("--queue", help="queue to check (default: events_default_queue)")
    health.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for answers (default 5)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `events-celery`; returns the exit status."""
    options = build_parser().parse_args(argv)
    if options.command == "health":
        return health(options.app, options.queue, options.timeout)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `celery -A` does, so local modules import
    modules = [name for value in options.handlers for name in value.split(",") if name]
    queues = [name for name in (options.queues or "").split(",") if name]
    try:
        app = app_from_environment(options.broker)
        import_handlers(modules)
    except ConfigurationError as exc:
        print(f"events-celery: {exc}", file=sys.stderr)
        return USAGE
    run_worker(app, queues or None, options.concurrency, options.loglevel)
    return OK


def health(spec: str, queue: str | None, timeout: float) -> int:
    """Run `events-celery health`; returns the exit status."""
    try:
        result = check_health(load_app(spec), queue, timeout)
    except ConfigurationError as exc:
        print(f"events-celery: {exc}", file=sys.stderr)
        return USAGE
    except OSError as exc:
        print(f"events-celery: unhealthy: cannot reach the broker: {exc}", file=sys.stderr)
        return UNHEALTHY
    if not result.ok:
        print(f"events-celery: unhealthy: {result.reason}", file=sys.stderr)
        return UNHEALTHY
    print(f"healthy: {', '.join(result.nodes)} consume {result.queue!r}")
    return OK


if __name__ == "__main__":
    sys.exit(main())
