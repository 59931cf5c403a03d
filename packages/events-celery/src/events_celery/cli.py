"""The `events-celery` command line: `events-celery worker --handlers MODULE [...]`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from events_celery.errors import ConfigurationError
from events_celery.worker import app_from_environment, import_handlers, run_worker

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `events-celery`."""
    parser = argparse.ArgumentParser(
        prog="events-celery",
        description="Run a Celery worker for events without writing a worker.py.",
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `events-celery`; returns the exit status."""
    options = build_parser().parse_args(argv)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `celery -A` does, so local modules import
    modules = [name for value in options.handlers for name in value.split(",") if name]
    queues = [name for name in (options.queues or "").split(",") if name]
    try:
        app = app_from_environment(options.broker)
        import_handlers(modules)
    except ConfigurationError as exc:
        print(f"events-celery: {exc}", file=sys.stderr)
        return 2
    run_worker(app, queues or None, options.concurrency, options.loglevel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
