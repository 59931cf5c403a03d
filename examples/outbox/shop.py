"""The shop's database: orders, the receipts handlers write, and the events outbox.

`EVENTS_OUTBOX_DB` names the database (default: PostgreSQL on 127.0.0.1 as `postgres`);
`SHOP_PREFIX` prefixes every table, so several shops can share one database.
"""

from __future__ import annotations

import os

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine
from worker import app

from events_contrib.outbox import Outbox

DATABASE_URL = os.environ.get(
    "EVENTS_OUTBOX_DB", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PREFIX = os.environ.get("SHOP_PREFIX", "shop")

engine = create_engine(DATABASE_URL)
metadata = MetaData()
orders = Table(
    f"{PREFIX}_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer", String(100), nullable=False),
)
receipts = Table(
    f"{PREFIX}_receipts",
    metadata,
    # One row per emission: the handler's idempotency key (see event_handlers.py).
    Column("emission_id", String(32), primary_key=True),
    Column("order_id", Integer, nullable=False),
)
outbox = Outbox(app, engine, table=f"{PREFIX}_outbox")


def create_tables() -> None:
    """Create the shop's tables and the outbox (Alembic would do this in production)."""
    metadata.create_all(engine)
    outbox.create_table()


def drop_tables() -> None:
    """Drop everything `create_tables` made."""
    metadata.drop_all(engine)
    outbox.drop_table()
