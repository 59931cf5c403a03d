"""The `events-dlq` command line: list, show, replay and purge dead letters.

    events-dlq -A worker list [--json] [--event GLOB] [--reason R] [--older-than 2h]
    events-dlq -A worker show ID [--json]
    events-dlq -A worker replay ID [ID ...] | --all [--queue QUEUE] [filters]
    events-dlq -A worker purge [--yes] [filters]

Exit status: 0 done (also when the reader of the output went away, as `| head` does); 1 a
letter was not found, nothing matched, or purge was not confirmed; 2 bad usage or
configuration; 3 the broker could not be reached; 4 on RabbitMQ, other readers held the queue
longer than the wait allowed.

Listing and showing read only what they print and leave every letter on the queue; with a
filter, every letter is read to find the matching ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from kombu.exceptions import OperationalError

from events_celery.errors import PublishError
from events_celery.loading import load_app
from events_contrib.__about__ import __version__
from events_contrib.deadletter import DeadLetter, DeadLetterQueue
from events_contrib.errors import DeadLetterNotFoundError, DeadLetterQueueBusyError
from events_contrib.letterfilter import LetterFilter, parse_duration
from events_core.errors import EventsError

OK, NOT_FOUND, USAGE, BROKER, BUSY = 0, 1, 2, 3, 4

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OperationalError,
)
"""Errors reported as "cannot reach the broker", beside the transport's own."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `events-dlq`."""
    parser = argparse.ArgumentParser(
        prog="events-dlq",
        description="Inspect, replay and purge the dead-letter queue of an events app.",
        epilog="Exit status: 0 done, 1 not found or not confirmed, 2 usage or configuration "
        "error, 3 broker unreachable, 4 queue busy with other readers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-A", "--app", required=True, help="the Celery app, as MODULE[:NAME]")
    parser.add_argument("--dead-letter-queue", help="the queue to read (default: from settings)")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--event", metavar="GLOB", help="only letters whose event matches")
    filters.add_argument("--reason", help="only letters with this reason (failed, signature...)")
    filters.add_argument(
        "--older-than",
        metavar="AGE",
        help="only letters whose last failure is older than AGE (90s, 15m, 2h, 7d)",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="one JSON object per line")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser(
        "list", parents=[filters, as_json], help="list dead letters (nothing is consumed)"
    )
    listing.add_argument(
        "-n", "--limit", type=int, default=50, help="at most this many (only these are read)"
    )
    show = commands.add_parser("show", parents=[as_json], help="show one dead letter in full")
    show.add_argument("id")
    replay = commands.add_parser(
        "replay", parents=[filters], help="publish dead letters again, then remove them"
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], metavar="ID")
    which.add_argument("--all", action="store_true", help="replay every replayable letter")
    replay.add_argument("--queue", help="publish here instead of each letter's original queue")
    purge = commands.add_parser("purge", parents=[filters], help="delete dead letters")
    purge.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    return parser


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    """Entry point of `events-dlq`; returns the exit status."""
    options = build_parser().parse_args(argv)
    broker_errors: tuple[type[BaseException], ...] = CONNECTION_ERRORS
    try:
        app = load_app(options.app)
        with app.connection_for_read() as connection:
            broker_errors += tuple(connection.connection_errors)
        queue = DeadLetterQueue(app, options.dead_letter_queue)
        return run(options, queue, stdin or sys.stdin)
    except BrokenPipeError:
        # The reader of our output is gone (`| head`): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
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
    where = letter_filter(options)
    if options.command == "list":
        page = queue.page(options.limit) if where is None else queue.matching(where, options.limit)
        if options.json:
            for letter in page.letters:
                print(json.dumps(letter.to_json()), flush=True)
            return OK
        print(render_table(page.letters))
        print(f"{len(page.letters)} of {page.total} dead letter(s) in {queue.name}")
        return OK
    if options.command == "show":
        letter = queue.get(options.id)
        print(json.dumps(letter.to_json()) if options.json else render_letter(letter))
        return OK
    if options.command == "replay":
        progress = Progress(sys.stderr) if sys.stderr.isatty() else None
        result = queue.replay(
            None if options.all else options.ids,
            queue=options.queue,
            where=where,
            progress=None if progress is None else progress.step,
        )
        if progress is not None:
            progress.done()
        for letter_id in result.replayed:
            print(f"replayed {letter_id}")
        for letter_id in result.skipped:
            print(f"skipped {letter_id} ({result.reasons.get(letter_id, 'not replayable')})")
        return OK if result.replayed or not result.skipped else NOT_FOUND
    count = queue.count() if where is None else queue.matching(where, 0).total
    if not options.yes:
        if not stdin.isatty():
            print("events-dlq: purge needs --yes when not run from a terminal", file=sys.stderr)
            return NOT_FOUND
        answer = input(f"Delete {count} dead letter(s) from {queue.name}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return NOT_FOUND
    print(f"deleted {queue.purge(where)} dead letter(s) from {queue.name}")
    return OK


def letter_filter(options: argparse.Namespace) -> LetterFilter | None:
    """The filter the options ask for, or None when they select every letter.

    Raises:
        ConfigurationError: an `--older-than` that is not a duration.
    """
    if not hasattr(options, "event"):
        return None
    older = options.older_than
    where = LetterFilter(
        event=options.event,
        reason=options.reason,
        older_than=None if older is None else parse_duration(older),
    )
    return None if where.selects_all else where


class Progress:
    """A one-line count of replayed letters, redrawn in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.count = 0

    def step(self, letter: DeadLetter) -> None:
        """Count one more letter done and redraw the line."""
        self.count += 1
        self.stream.write(f"\rreplaying: {self.count} letter(s) done")
        self.stream.flush()

    def done(self) -> None:
        """End the progress line."""
        if self.count:
            self.stream.write("\n")
            self.stream.flush()


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
