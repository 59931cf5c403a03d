"""The `events-outbox` command line: run a relay, or report on an outbox table.

    events-outbox relay -A worker --db URL [--table T] [--batch N] [--retention S] [--poll S]
    events-outbox status -A worker --db URL [--table T] [--json]

`--db` defaults to `$EVENTS_OUTBOX_DB`. Exit status: 0 done (a relay stopped by SIGTERM or
SIGINT too), 2 bad usage or configuration, 3 the database could not be reached.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from events_celery.loading import load_app
from events_contrib.__about__ import __version__
from events_contrib.errors import ConfigurationError
from events_contrib.outbox import DEFAULT_TABLE, Outbox
from events_contrib.outboxmetrics import RelayMeters
from events_contrib.outboxrelay import (
    DEFAULT_BATCH,
    DEFAULT_LOG_INTERVAL,
    DEFAULT_RETENTION,
    Relay,
    pending_of,
)
from events_core.errors import EventsError

OK, USAGE, DATABASE = 0, 2, 3

DB_ENV = "EVENTS_OUTBOX_DB"
"""Environment variable with the database URL when `--db` is not given."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `events-outbox`."""
    parser = argparse.ArgumentParser(
        prog="events-outbox",
        description="Relay an events outbox table to the broker, or report on it.",
        epilog="Exit status: 0 done, 2 usage or configuration error, 3 database unreachable.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-A", "--app", required=True, help="the Celery app, as MODULE[:NAME]")
    common.add_argument("--db", default=os.environ.get(DB_ENV), help=f"database URL (${DB_ENV})")
    common.add_argument("--table", default=DEFAULT_TABLE, help="the outbox table")
    common.add_argument("--schema", help="the table's schema (default: the database's)")
    commands = parser.add_subparsers(dest="command", required=True)
    relay = commands.add_parser("relay", parents=[common], help="publish committed rows")
    relay.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per transaction")
    relay.add_argument(
        "--retention", type=float, default=DEFAULT_RETENTION, help="seconds to keep published rows"
    )
    relay.add_argument("--poll", type=float, help="seconds between looks without a NOTIFY")
    relay.add_argument("--no-notify", action="store_true", help="poll even on PostgreSQL")
    relay.add_argument(
        "--log-interval", type=float, default=DEFAULT_LOG_INTERVAL, help="seconds between reports"
    )
    relay.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics here (needs [prometheus])"
    )
    relay.add_argument("--metrics-address", default="127.0.0.1", help="address of --metrics-port")
    status = commands.add_parser("status", parents=[common], help="pending rows and lag")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `events-outbox`; returns the exit status."""
    options = build_parser().parse_args(argv)
    if not options.db:
        print(f"events-outbox: give --db URL or set ${DB_ENV}", file=sys.stderr)
        return USAGE
    try:
        app = load_app(options.app)
        engine = create_engine(options.db)
        outbox = Outbox(app, engine, table=options.table, schema=options.schema)
        if options.command == "relay":
            return relay(outbox, options)
        return status(outbox, options.json)
    except EventsError as exc:
        print(f"events-outbox: {exc}", file=sys.stderr)
        return USAGE
    except SQLAlchemyError as exc:
        print(f"events-outbox: database error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return DATABASE


def relay(outbox: Outbox, options: argparse.Namespace) -> int:
    """Run a relay in the foreground until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(levelname)s] %(message)s")
    meters = None
    if options.metrics_port is not None:
        meters = RelayMeters()
        try:
            meters.serve(options.metrics_port, options.metrics_address)
        except OSError as exc:
            raise ConfigurationError(
                "metrics_port",
                f"cannot listen on {options.metrics_address}:{options.metrics_port} "
                f"({exc.strerror or type(exc).__name__})",
            ) from exc
    Relay(
        outbox,
        batch=options.batch,
        retention=options.retention,
        notify=not options.no_notify,
        poll=options.poll,
        log_interval=options.log_interval,
        meters=meters,
    ).run(handle_signals=True)
    return OK


def status(outbox: Outbox, as_json: bool) -> int:
    """Print the pending count, the oldest pending row's age and the relay's lag."""
    figures = pending_of(outbox)
    if as_json:
        print(
            json.dumps(
                {
                    "pending": figures.pending,
                    "oldest_pending_seconds": figures.oldest_age,
                    "lag_seconds": figures.lag,
                    "published_kept": figures.published,
                }
            )
        )
        return OK
    oldest = "-" if figures.oldest_age is None else f"{figures.oldest_age:.1f} s"
    lag = "-" if figures.lag is None else f"{figures.lag:.3f} s"
    print(f"pending: {figures.pending}\noldest pending: {oldest}\nrelay lag: {lag}")
    print(f"published, kept: {figures.published}")
    return OK


if __name__ == "__main__":
    sys.exit(main())
