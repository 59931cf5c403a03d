"""The `events-dlq` command line: list, show, replay and purge dead letters.

    events-dlq -A worker list
    events-dlq -A worker show ID
    events-dlq -A worker replay ID [ID ...] | --all [--queue QUEUE]
    events-dlq -A worker purge [--yes]

Exit status: 0 done; 1 a letter was not found, nothing matched, or purge was not confirmed;
2 bad usage or configuration; 3 the broker could not be reached; 4 on RabbitMQ, other readers
held the queue longer than the wait allowed.

Listing and showing read only what they print and leave every letter on the queue.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from kombu.exceptions import OperationalError

from events_celery.errors import PublishError
from events_celery.loading import load_app
from events_contrib.deadletter import DeadLetter, DeadLetterQueue
from events_contrib.errors import DeadLetterNotFoundError, DeadLetterQueueBusyError
from events_core.errors import EventsError

OK, NOT_FOUND, USAGE, BROKER, BUSY = 0, 1, 2, 3, 4


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `events-dlq`."""
    parser = argparse.ArgumentParser(
        prog="events-dlq",
        description="Inspect, replay and purge the dead-letter queue of an events app.",
        epilog="Exit status: 0 done, 1 not found or not confirmed, 2 usage or configuration "
        "error, 3 broker unreachable, 4 queue busy with other readers.",
    )
    parser.add_argument("-A", "--app", required=True, help="the Celery app, as MODULE[:NAME]")
    parser.add_argument("--dead-letter-queue", help="the queue to read (default: from settings)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list dead letters (nothing is consumed)")
    listing.add_argument(
        "-n", "--limit", type=int, default=50, help="at most this many (only these are read)"
    )
    show = commands.add_parser("show", help="show one dead letter in full")
    show.add_argument("id")
    replay = commands.add_parser("replay", help="publish dead letters again, then remove them")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], metavar="ID")
    which.add_argument("--all", action="store_true", help="replay every replayable letter")
    replay.add_argument("--queue", help="publish here instead of each letter's original queue")
    purge = commands.add_parser("purge", help="delete every dead letter")
    purge.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    return parser


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    """Entry point of `events-dlq`; returns the exit status."""
    options = build_parser().parse_args(argv)
    broker_errors: tuple[type[BaseException], ...] = (OSError, OperationalError)
    try:
        app = load_app(options.app)
        with app.connection_for_read() as connection:
            broker_errors += tuple(connection.connection_errors)
        queue = DeadLetterQueue(app, options.dead_letter_queue)
        return run(options, queue, stdin or sys.stdin)
    except broker_errors as exc:
        print(f"events-dlq: cannot reach the broker: {exc}", file=sys.stderr)
        return BROKER
    except EventsError as exc:
        print(f"events-dlq: {exc}", file=sys.stderr)
        return _status_of(exc)


def _status_of(error: EventsError) -> int:
    if isinstance(error, DeadLetterNotFoundError):
        return NOT_FOUND
    if isinstance(error, PublishError):
        return BROKER
    if isinstance(error, DeadLetterQueueBusyError):
        return BUSY
    return USAGE


def run(options: argparse.Namespace, queue: DeadLetterQueue, stdin: TextIO) -> int:
    """Carry out one parsed command."""
    if options.command == "list":
        page = queue.page(options.limit)
        print(render_table(page.letters))
        print(f"{len(page.letters)} of {page.total} dead letter(s) in {queue.name}")
        return OK
    if options.command == "show":
        print(render_letter(queue.get(options.id)))
        return OK
    if options.command == "replay":
        result = queue.replay(None if options.all else options.ids, queue=options.queue)
        for letter_id in result.replayed:
            print(f"replayed {letter_id}")
        for letter_id in result.skipped:
            print(f"skipped {letter_id} ({result.reasons.get(letter_id, 'not replayable')})")
        return OK if result.replayed or not result.skipped else NOT_FOUND
    count = queue.count()
    if not options.yes:
        if not stdin.isatty():
            print("events-dlq: purge needs --yes when not run from a terminal", file=sys.stderr)
            return NOT_FOUND
        answer = input(f"Delete {count} dead letter(s) from {queue.name}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return NOT_FOUND
    print(f"deleted {queue.purge()} dead letter(s) from {queue.name}")
    return OK


COLUMNS = ("ID", "EVENT", "REASON", "ATTEMPTS", "LAST FAILURE", "HANDLERS")


def render_table(letters: Sequence[DeadLetter]) -> str:
    """A plain-text table of dead letters, one row each."""
    rows = [
        (
            letter.id,
            _clip(letter.event, 40),
            letter.reason,
            str(letter.attempts),
            letter.last_failure.strftime("%Y-%m-%d %H:%M:%S"),
            _clip(", ".join(letter.handlers) or "-", 60),
        )
        for letter in letters
    ]
    widths = [max(len(row[index]) for row in [COLUMNS, *rows]) for index in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in [COLUMNS, *rows]]  # fmt: skip
    return "\n".join(line.rstrip() for line in lines)


def render_letter(letter: DeadLetter) -> str:
    """Every field of one dead letter, tracebacks included."""
    lines = [
        f"id:            {letter.id}",
        f"emission:      {letter.emission_id or '-'}",
        f"event:         {letter.event or '-'}",
        f"reason:        {letter.reason}",
        f"queue:         {letter.queue or '-'}",
        f"attempts:      {letter.attempts}",
        f"first failure: {letter.first_failure.isoformat()}",
        f"last failure:  {letter.last_failure.isoformat()}",
        f"replayable:    {'yes' if letter.replayable else 'no'}",
    ]
    if letter.detail:
        lines.append(f"detail:        {letter.detail}")
    for failure in letter.failures:
        lines.append(f"\nhandler {failure.handler}: {failure.exception_type or failure.reason}")
        if failure.message:
            lines.append(f"  {failure.message}")
        if failure.traceback:
            lines.append("  " + failure.traceback.rstrip().replace("\n", "\n  "))
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
