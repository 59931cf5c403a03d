"""`Relay`: publishes the committed rows of an outbox to their queues, in id order.

Each batch is one database transaction: select unpublished rows `FOR UPDATE SKIP LOCKED`
(so several relays share the work), publish each stored message (confirmed on RabbitMQ), mark
the published ones, commit. A crash between a publish and the commit publishes that batch's
rows again: at-least-once, at most one batch of duplicates per crash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any, Protocol

from celery import Celery
from sqlalchemy import Connection, Engine, Table, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from events_celery.bootstrap import runtime_of
from events_celery.envelope import Envelope
from events_celery.errors import MalformedEnvelopeError, PublishError
from events_contrib.backoff import Backoff, compute_backoff
from events_contrib.errors import ConfigurationError
from events_contrib.outboxmetrics import RelayMeters

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 100
"""Rows a relay publishes per database transaction."""

DEFAULT_RETENTION = 3600.0
"""Seconds a published row is kept (for `events-outbox status`) before it is deleted."""

DEFAULT_POLL = 1.0
"""Seconds between looks at the table when nothing notified (the only wake-up on SQLite)."""

DEFAULT_NOTIFY_POLL = 10.0
"""Seconds between looks at the table while NOTIFY wakes the relay (a safety net)."""

DEFAULT_LOG_INTERVAL = 10.0
"""Seconds between progress lines (pending, rows/s, lag)."""

BROKER_BACKOFF = Backoff(initial=0.5, factor=2.0, maximum=10.0)
"""Pauses between tries while the broker refuses the relay's publishes."""

_TICK = 0.25
"""Longest a wait runs before the relay looks at its stop flag."""


class RelayedOutbox(Protocol):
    """What a relay needs of an outbox; `events_contrib.outbox.Outbox` is one."""

    @property
    def app(self) -> Celery:
        """The Celery app that publishes."""

    @property
    def engine(self) -> Engine:
        """The database holding the table."""

    @property
    def table(self) -> Table:
        """The outbox table."""

    @property
    def channel(self) -> str:
        """The NOTIFY channel of the table."""

    @property
    def notifies(self) -> bool:
        """Whether commits NOTIFY the channel."""


@dataclass(frozen=True)
class Pending:
    """Figures about an outbox table (`events-outbox status`).

    Attributes:
        pending: committed rows not yet published.
        oldest_age: seconds since the oldest pending row was emitted (None: none pending).
        lag: emit-to-publish seconds of the row published last (None: none kept).
        published: published rows still kept (until the retention ends).
    """

    pending: int
    oldest_age: float | None
    lag: float | None
    published: int


def pending_of(outbox: RelayedOutbox) -> Pending:
    """Count pending rows and measure the relay's lag."""
    table = outbox.table
    now = datetime.now(timezone.utc)
    with outbox.engine.connect() as connection:
        unpublished = table.c.published_at.is_(None)
        count, oldest = connection.execute(
            select(func.count(), func.min(table.c.created_at)).where(unpublished)
        ).one()
        published = connection.execute(
            select(func.count()).where(table.c.published_at.is_not(None))
        ).scalar_one()
        last = connection.execute(
            select(table.c.created_at, table.c.published_at)
            .where(table.c.published_at.is_not(None))
            .order_by(table.c.published_at.desc())
            .limit(1)
        ).first()
    return Pending(
        pending=int(count),
        oldest_age=None if oldest is None else (now - aware(oldest)).total_seconds(),
        lag=None if last is None else (aware(last[1]) - aware(last[0])).total_seconds(),
        published=int(published),
    )


class Relay:
    """Moves committed outbox rows to the broker; run one or several per outbox.

    `run()` blocks until `stop()` (or SIGTERM/SIGINT with `handle_signals=True`): it finishes
    the current batch, then returns. A broker that refuses publishes is retried with backoff;
    a row is marked only after the broker took it, and never dropped.

    Args:
        outbox: the outbox to relay.
        batch: rows per database transaction.
        retention: seconds published rows are kept; 0 deletes them in the batch that
            published them.
        notify: wait for PostgreSQL's NOTIFY between batches (default: on PostgreSQL).
        poll: seconds between looks at the table without a notification.
        log_interval: seconds between progress lines (and updates of the meters' gauges).
        meters: Prometheus meters to count into (`events_contrib.outboxmetrics`), if any.

    Raises:
        ConfigurationError: a batch below 1, or a negative retention, poll or interval.
    """

    def __init__(
        self,
        outbox: RelayedOutbox,
        *,
        batch: int = DEFAULT_BATCH,
        retention: float = DEFAULT_RETENTION,
        notify: bool | None = None,
        poll: float | None = None,
        log_interval: float = DEFAULT_LOG_INTERVAL,
        meters: RelayMeters | None = None,
    ) -> None:
        if type(batch) is not int or batch < 1:
            raise ConfigurationError("batch", f"expected a row count from 1, got {batch!r}")
        for name, value in (("retention", retention), ("log_interval", log_interval)):
            if value < 0:
                raise ConfigurationError(name, f"expected seconds from 0, got {value!r}")
        self.outbox = outbox
        self.batch = batch
        self.retention = float(retention)
        self.notify = outbox.notifies if notify is None else bool(notify and outbox.notifies)
        if poll is None:
            poll = DEFAULT_NOTIFY_POLL if self.notify else DEFAULT_POLL
        if poll <= 0:
            raise ConfigurationError("poll", f"expected seconds above 0, got {poll!r}")
        self.poll = float(poll)
        self.log_interval = float(log_interval)
        self.meters = meters
        self.publisher = runtime_of(outbox.app).publisher
        self.published = 0
        """Rows this relay has published so far."""
        self._stopping = False
        self._failures = 0

    def stop(self) -> None:
        """Ask `run` to return once the current batch is committed."""
        self._stopping = True

    def run(self, *, handle_signals: bool = False) -> None:
        """Relay until stopped; with `handle_signals`, SIGTERM and SIGINT stop it."""
        if handle_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        logger.info(
            "relaying outbox %s (batch %d, %s)",
            self.outbox.channel,
            self.batch,
            "notify" if self.notify else f"polling every {self.poll:g} s",
        )
        listener = _Listener(self.outbox, lambda: self._stopping) if self.notify else None
        wait = self._sleep if listener is None else listener.wait
        try:
            if listener is not None:
                listener.listen()
            last_log = last_sweep = time.monotonic()
            logged = self.published
            while not self._stopping:
                sent = 0
                try:
                    sent = self.relay_batch()
                    now = time.monotonic()
                    if self.log_interval and now - last_log >= self.log_interval:
                        self._log_progress((self.published - logged) / (now - last_log))
                        last_log, logged = now, self.published
                    if self.retention and now - last_sweep >= min(self.retention, 60.0):
                        self.sweep()
                        last_sweep = now
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                    # The database went away: the batch's marks were rolled back, so its rows
                    # stay pending (those already published go again); retry after a pause.
                    self._failures += 1
                    logger.warning("outbox relay: lost the database connection, retrying")
                if self._failures:
                    self._sleep(compute_backoff(self._failures, BROKER_BACKOFF))
                elif sent < self.batch:
                    wait(self.poll)
        finally:
            if listener is not None:
                listener.close()
        logger.info("outbox relay stopped after %d rows", self.published)

    def relay_batch(self) -> int:
        """Publish one batch of pending rows in id order; return how many were published.

        A broker failure ends the batch: the rows published before it are marked, the rest
        stay pending for the next try.
        """
        table = self.outbox.table
        sent: list[int] = []
        with self.outbox.engine.begin() as connection:
            rows = connection.execute(
                select(table.c.id, table.c.queue, table.c.message)
                .where(table.c.published_at.is_(None))
                .order_by(table.c.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            for row_id, queue, message in rows:
                try:
                    envelope = Envelope.parse(json.loads(message))
                except (ValueError, MalformedEnvelopeError):
                    # Not written by an outbox emitter: keep it (never drop a row) for an
                    # operator to look at, and relay the others.
                    logger.error("outbox relay: row %d holds no envelope; left pending", row_id)
                    continue
                try:
                    self.publisher.send(envelope, queue)
                except PublishError as exc:
                    self._failures += 1
                    logger.warning(
                        "outbox relay: the broker refused row %d (%s); %d published in this "
                        "batch, retrying",
                        row_id,
                        type(exc.__cause__ or exc).__name__,
                        len(sent),
                    )
                    break
                sent.append(row_id)
            else:
                self._failures = 0
            self._mark(connection, sent)
        self.published += len(sent)
        if self.meters is not None and sent:
            self.meters.relayed.inc(len(sent))
        return len(sent)

    def sweep(self) -> int:
        """Delete published rows older than the retention; return how many."""
        table = self.outbox.table
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.retention)
        with self.outbox.engine.begin() as connection:
            result = connection.execute(delete(table).where(table.c.published_at < cutoff))
        return int(result.rowcount)

    def _mark(self, connection: Connection, ids: list[int]) -> None:
        if not ids:
            return
        table = self.outbox.table
        if self.retention:
            connection.execute(
                update(table)
                .where(table.c.id.in_(ids))
                .values(published_at=datetime.now(timezone.utc))
            )
        else:
            connection.execute(delete(table).where(table.c.id.in_(ids)))

    def _log_progress(self, rate: float) -> None:
        figures = pending_of(self.outbox)
        if self.meters is not None:
            self.meters.report(figures.pending, figures.lag)
        logger.info(
            "outbox relay: %d pending, %.1f rows/s, lag %s",
            figures.pending,
            rate,
            "-" if figures.lag is None else f"{figures.lag:.3f} s",
        )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("outbox relay: signal %d, stopping after this batch", signum)
        self.stop()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, _TICK))


class _Listener:
    """Waits for a NOTIFY on the outbox's channel; a lost connection is opened again.

    The notification only wakes the relay early: while the connection is down, a wait lasts
    its full time, as polling does.
    """

    def __init__(self, outbox: RelayedOutbox, stopping: Callable[[], bool]) -> None:
        self.outbox = outbox
        self.stopping = stopping
        self._connection: Connection | None = None
        self._driver: Any = None

    def wait(self, seconds: float) -> None:
        """Return after `seconds`, on a notification, or once the relay is stopping."""
        deadline = time.monotonic() + seconds
        while not self.stopping() and (left := deadline - time.monotonic()) > 0:
            try:
                if self._driver is None:
                    # Listening again: a notification may have been missed meanwhile, so
                    # return and let a batch look at the table.
                    self.listen()
                    return
                tick = min(left, _TICK)
                if any(True for _ in self._driver.notifies(timeout=tick, stop_after=1)):
                    return
            except Exception as exc:
                # Any failure of the listening connection: drop it, wait out this tick, and
                # listen again on the next one; the relay's own batches are unaffected.
                logger.warning("outbox relay: NOTIFY listener failed (%s)", type(exc).__name__)
                self.close()
                time.sleep(min(left, 1.0))

    def close(self) -> None:
        """Close the listening connection, if open."""
        connection, self._connection, self._driver = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def listen(self) -> None:
        """Open the listening connection and LISTEN on the outbox's channel."""
        connection = self.outbox.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        channel = self.outbox.channel.replace('"', '""')
        connection.exec_driver_sql(f'LISTEN "{channel}"')
        self._connection = connection
        self._driver = connection.connection.driver_connection


def aware(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (SQLite gives naive ones back)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
