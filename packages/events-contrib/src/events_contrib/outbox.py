"""`Outbox`: emit events in a database transaction; a relay publishes them once it commits.

```python
outbox = Outbox(app, engine)          # table "events_outbox"; outbox.metadata for Alembic
outbox.create_table()
with Session(engine) as session, session.begin():
    session.add(order)
    outbox.emitter(session).emit("OrderPlaced", order_id=order.id)
# committed: the order and its event together; rolled back: neither
outbox.relay().run()                  # or the command: events-outbox relay -A worker --db URL
```

Needs `events-contrib[sqlalchemy]`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from celery import Celery
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.orm import Session, registry

from events_celery.emitter import CeleryEventEmitter
from events_celery.envelope import MAX_EVENT_NAME, Envelope
from events_contrib.errors import ConfigurationError
from events_contrib.outboxmetrics import RelayMeters
from events_contrib.outboxrelay import (
    DEFAULT_BATCH,
    DEFAULT_LOG_INTERVAL,
    DEFAULT_RETENTION,
    Relay,
)
from events_core.registry import EventLinker

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

DEFAULT_TABLE = "events_outbox"
"""Name of the outbox table unless `Outbox(table=...)` says otherwise."""

MAX_QUEUE_NAME = 255
"""Longest queue name a row can carry."""


class OutboxRow:
    """One stored emission, as the ORM sees a row of an outbox table (mapped per outbox)."""

    id: int
    emission_id: str
    event: str
    queue: str
    message: str
    created_at: datetime
    published_at: datetime | None

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


class Outbox:
    """One outbox table of a Celery app, and the emitters and relays that use it.

    Args:
        app: the Celery app the relay publishes with (its routes, keys and add-ons seal).
        engine: the database holding the table.
        table: the table's name (one per outbox).
        schema: the table's schema, if not the default one.

    Raises:
        ConfigurationError: a table name that is empty or too long for a NOTIFY channel.
    """

    def __init__(
        self,
        app: Celery,
        engine: Engine,
        *,
        table: str = DEFAULT_TABLE,
        schema: str | None = None,
    ) -> None:
        if not isinstance(table, str) or not table or len(table) > 63:
            raise ConfigurationError("table", f"expected 1 to 63 characters, got {table!r}")
        self.app = app
        self.engine = engine
        self.metadata = MetaData(schema=schema)
        """The metadata holding the table: give it to Alembic's `target_metadata`."""
        self.table = _define(self.metadata, table)
        """The outbox table."""
        self.channel = f"{schema}.{table}" if schema else table
        """The PostgreSQL NOTIFY channel a commit with new rows notifies."""
        self._attach_notify_trigger()
        mapper = registry(metadata=self.metadata)
        self.row_class: type[OutboxRow] = type("OutboxRow", (OutboxRow,), {})
        mapper.map_imperatively(self.row_class, self.table)

    @property
    def notifies(self) -> bool:
        """Whether commits wake relays with NOTIFY (PostgreSQL); otherwise relays poll."""
        return self.engine.dialect.name == "postgresql"

    def create_table(self) -> None:
        """Create the table (and on PostgreSQL its NOTIFY trigger) if it does not exist."""
        self.metadata.create_all(self.engine)

    def drop_table(self) -> None:
        """Drop the table (and its trigger)."""
        self.metadata.drop_all(self.engine)

    def emitter(
        self,
        session: Session | AsyncSession,
        *,
        queue: str | None = None,
        linker: type[EventLinker] = EventLinker,
        resolve: Literal["emitter", "worker"] = "emitter",
    ) -> OutboxEventEmitter:
        """An emitter that adds each emission to `session`'s transaction.

        Takes a `Session` or an `AsyncSession`; the options are `CeleryEventEmitter`'s.
        """
        return OutboxEventEmitter(self, session, queue=queue, linker=linker, resolve=resolve)

    def relay(
        self,
        *,
        batch: int = DEFAULT_BATCH,
        retention: float = DEFAULT_RETENTION,
        notify: bool | None = None,
        poll: float | None = None,
        log_interval: float = DEFAULT_LOG_INTERVAL,
        meters: RelayMeters | None = None,
    ) -> Relay:
        """A relay of this outbox, to `run()` in a process or thread of your own.

        The options are those of `events_contrib.outboxrelay.Relay`.
        """
        return Relay(
            self,
            batch=batch,
            retention=retention,
            notify=notify,
            poll=poll,
            log_interval=log_interval,
            meters=meters,
        )

    def _attach_notify_trigger(self) -> None:
        """On PostgreSQL, an insert trigger NOTIFYs the channel: relays wake on each commit."""
        table = self.table
        quoted = self.engine.dialect.identifier_preparer.format_table(table)
        function = (
            f'"{table.name}_notify"'
            if table.schema is None
            else f'"{table.schema}"."{table.name}_notify"'
        )
        channel = self.channel.replace("'", "''")
        statements = (
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$",
            f'CREATE TRIGGER "{table.name}_notify" AFTER INSERT ON {quoted} '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        )

        def create(target: Table, connection: Connection, **kw: Any) -> None:
            if connection.dialect.name == "postgresql":
                for statement in statements:
                    connection.exec_driver_sql(statement)

        def drop(target: Table, connection: Connection, **kw: Any) -> None:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}() CASCADE")

        event.listen(table, "after_create", create)
        event.listen(table, "after_drop", drop)


class OutboxEventEmitter(CeleryEventEmitter):
    """Seals each emission as `CeleryEventEmitter` does and adds it to a session's transaction.

    `emit` does no I/O: the row is written when the session flushes, and published by a relay
    once the transaction commits; a rollback discards it. Handler errors stay on the workers.
    Works the same with an `AsyncSession` (the row rides on its `sync_session`).

    Args:
        outbox: the outbox whose table receives the rows.
        session: the session whose transaction carries them.
        queue: as for `CeleryEventEmitter`: every emission to this queue, whatever the routes.
        linker: as for `CeleryEventEmitter`: the registry handlers are resolved from.
        resolve: as for `CeleryEventEmitter`: `"emitter"` or `"worker"`.
    """

    def __init__(
        self,
        outbox: Outbox,
        session: Session | AsyncSession,
        *,
        queue: str | None = None,
        linker: type[EventLinker] = EventLinker,
        resolve: Literal["emitter", "worker"] = "emitter",
    ) -> None:
        super().__init__(outbox.app, queue=queue, linker=linker, resolve=resolve)
        # An AsyncSession, recognised without importing SQLAlchemy's asyncio extension.
        session = getattr(session, "sync_session", session)
        if not isinstance(session, Session):
            raise ConfigurationError(
                "session", f"expected a Session or AsyncSession, got {type(session).__name__}"
            )
        self.outbox = outbox
        self.session = session

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Emits inside the block are rows of the transaction, as outside it.

        Each emission is its own row (and message): the relay already publishes rows in
        batches, and the transaction, not the block, decides what is sent.
        """
        yield

    def deliver(self, envelope: Envelope, queue: str) -> None:
        """Add the sealed envelope to the session as a row for `queue`.

        Raises:
            ConfigurationError: a queue name longer than a row carries.
        """
        if len(queue) > MAX_QUEUE_NAME:
            raise ConfigurationError("queue", f"longer than {MAX_QUEUE_NAME} characters")
        self.session.add(
            self.outbox.row_class(
                emission_id=envelope.id,
                event=envelope.event,
                queue=queue,
                message=json.dumps(envelope.to_message(), separators=(",", ":")),
                created_at=datetime.now(timezone.utc),
            )
        )


def _define(metadata: MetaData, name: str) -> Table:
    table = Table(
        name,
        metadata,
        # Ids grow in insert order: the relay publishes by id, so one transaction's events
        # leave in the order they were emitted.
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("emission_id", String(32), nullable=False),
        Column("event", String(MAX_EVENT_NAME), nullable=False),
        Column("queue", String(MAX_QUEUE_NAME), nullable=False),
        Column("message", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
    )
    Index(
        f"{name}_pending",
        table.c.id,
        postgresql_where=table.c.published_at.is_(None),
        sqlite_where=table.c.published_at.is_(None),
    )
    Index(f"{name}_published", table.c.published_at)
    return table
