"""The outbox table, its emitter and its relay on SQLite and kombu's in-memory broker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

import events_celery
from events_celery import CeleryEventEmitter, Envelope
from events_celery.bootstrap import runtime_of
from events_contrib.errors import ConfigurationError
from events_contrib.outbox import Outbox
from events_contrib.outboxcli import main
from events_contrib.outboxrelay import Relay, pending_of
from events_core import EventLinker


class OutboxLinker(EventLinker):
    """Handlers of these tests only."""


@OutboxLinker.on("order.placed", "order.paid")
def on_order(order_id: int) -> None:
    """A handler the emitter names by ref."""


@pytest.fixture
def app() -> Iterator[Celery]:
    celery_app = Celery("outbox-test", broker="memory://", set_as_current=False)
    celery_app.conf.events_default_queue = f"utest-{uuid.uuid4().hex[:12]}"
    celery_app.conf.events_signing_key = "outbox-test-key"
    celery_app.conf.events_routes = {"order.paid": "payments"}
    events_celery.install(celery_app)
    yield celery_app
    celery_app.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    found = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield found
    found.dispose()


@pytest.fixture
def outbox(app: Celery, engine: Engine) -> Outbox:
    found = Outbox(app, engine)
    found.create_table()
    return found


def rows(outbox: Outbox) -> list[Any]:
    with outbox.engine.connect() as connection:
        return list(connection.execute(select(outbox.table).order_by(outbox.table.c.id)))


def drain(app: Celery, queue: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with app.connection_for_write() as connection:
        simple = connection.SimpleQueue(queue)
        try:
            while True:
                try:
                    message = simple.get_nowait()
                except Empty:
                    break
                message.ack()
                found.append(message.payload[0][0])
        finally:
            simple.close()
    return found


def test_a_committed_emit_stores_the_envelope_the_celery_emitter_would_send(
    app: Celery, outbox: Outbox
) -> None:
    publisher = runtime_of(app).publisher
    sent: list[tuple[Envelope, str]] = []
    publisher.send = lambda envelope, queue, countdown=None: sent.append((envelope, queue))  # type: ignore[method-assign]
    CeleryEventEmitter(app, linker=OutboxLinker).emit("order.paid", 7)
    del publisher.send
    with Session(outbox.engine) as session, session.begin():
        outbox.emitter(session, linker=OutboxLinker).emit("order.paid", 7)
    (row,) = rows(outbox)
    stored = Envelope.parse(json.loads(row.message))
    direct, queue = sent[0]
    assert row.queue == queue == "payments"
    assert row.event == "order.paid"
    assert row.published_at is None
    assert stored.kid == direct.kid is not None
    assert stored.sig is not None
    stored.verify(runtime_of(app).settings.keyring)
    assert json.loads(stored.body)["handlers"] == json.loads(direct.body)["handlers"]
    assert row.emission_id == stored.id


def test_a_rolled_back_emit_leaves_no_row(outbox: Outbox) -> None:
    with Session(outbox.engine) as session, session.begin():
        outbox.emitter(session, linker=OutboxLinker).emit("order.placed", 1)
        session.flush()
        assert len(session.execute(select(outbox.table)).all()) == 1
        session.rollback()
    assert rows(outbox) == []


def test_rows_of_one_transaction_keep_the_emitted_order(outbox: Outbox) -> None:
    with Session(outbox.engine) as session, session.begin():
        emitter = outbox.emitter(session, linker=OutboxLinker)
        emitted = [emitter.emit("order.placed", number) for number in range(20)]
    assert [row.emission_id for row in rows(outbox)] == [e.id for e in emitted if e]


def test_a_batch_block_of_an_outbox_emitter_adds_rows_and_publishes_nothing(
    app: Celery, outbox: Outbox
) -> None:
    with Session(outbox.engine) as session, session.begin():
        emitter = outbox.emitter(session, linker=OutboxLinker)
        with emitter.batch():
            emitted = [emitter.emit("order.placed", number) for number in range(3)]
    assert [row.emission_id for row in rows(outbox)] == [e.id for e in emitted if e]
    assert drain(app, app.conf.events_default_queue) == []


def test_an_event_without_handlers_adds_no_row(outbox: Outbox) -> None:
    with Session(outbox.engine) as session, session.begin():
        assert outbox.emitter(session, linker=OutboxLinker).emit("nobody.listens") is None
    assert rows(outbox) == []


def test_the_relay_publishes_in_id_order_and_marks_the_rows(app: Celery, outbox: Outbox) -> None:
    with Session(outbox.engine) as session, session.begin():
        emitter = outbox.emitter(session, linker=OutboxLinker)
        ids = [emitter.emit("order.placed", n).id for n in range(5)]  # type: ignore[union-attr]
    relay = outbox.relay(batch=2)
    assert [relay.relay_batch() for _ in range(4)] == [2, 2, 1, 0]
    queue = runtime_of(app).settings.default_queue
    assert [message["id"] for message in drain(app, queue)] == ids
    assert all(row.published_at is not None for row in rows(outbox))
    figures = pending_of(outbox)
    assert figures.pending == 0
    assert figures.published == 5
    assert figures.lag is not None


def test_relay_meters_count_published_rows_and_report_what_is_pending(
    app: Celery, outbox: Outbox
) -> None:
    from prometheus_client import CollectorRegistry

    from events_contrib.outboxmetrics import RelayMeters

    meters = RelayMeters(CollectorRegistry())
    with Session(outbox.engine) as session, session.begin():
        emitter = outbox.emitter(session, linker=OutboxLinker)
        for number in range(3):
            emitter.emit("order.placed", number)
    relay = outbox.relay(batch=2, meters=meters)
    relay.relay_batch()
    figures = pending_of(outbox)
    meters.report(figures.pending, figures.lag)
    value = meters.registry.get_sample_value
    assert value("events_outbox_relayed_total") == 2
    assert value("events_outbox_pending") == 1
    assert value("events_outbox_lag_seconds") is not None
    relay.relay_batch()
    assert value("events_outbox_relayed_total") == 3


def test_a_relay_with_no_retention_deletes_what_it_published(app: Celery, outbox: Outbox) -> None:
    with Session(outbox.engine) as session, session.begin():
        outbox.emitter(session, linker=OutboxLinker).emit("order.placed", 1)
    assert Relay(outbox, retention=0).relay_batch() == 1
    assert rows(outbox) == []


def test_the_sweep_deletes_published_rows_past_the_retention(app: Celery, outbox: Outbox) -> None:
    with Session(outbox.engine) as session, session.begin():
        outbox.emitter(session, linker=OutboxLinker).emit("order.placed", 1)
    relay = Relay(outbox, retention=0.000001)
    relay.relay_batch()
    assert relay.sweep() == 1
    assert rows(outbox) == []


def test_a_broker_failure_keeps_the_unpublished_rows(
    app: Celery, outbox: Outbox, engine: Engine
) -> None:
    with Session(engine) as session, session.begin():
        emitter = outbox.emitter(session, linker=OutboxLinker)
        for number in range(3):
            emitter.emit("order.placed", number)
    down = Celery("down", broker="redis://127.0.0.1:1/0", set_as_current=False)
    down.conf.events_default_queue = "utest-down"
    events_celery.install(down)
    relay = Relay(Outbox(down, engine))
    assert relay.relay_batch() == 0
    assert pending_of(outbox).pending == 3
    assert Relay(outbox).relay_batch() == 3
    down.close()


def test_status_prints_the_pending_count(
    outbox: Outbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session(outbox.engine) as session, session.begin():
        outbox.emitter(session, linker=OutboxLinker).emit("order.placed", 1)
    spec = "tests.events_contrib.outbox_app"
    assert main(["status", "-A", spec, "--db", str(outbox.engine.url), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["pending"] == 1
    assert figures["oldest_pending_seconds"] >= 0


@pytest.mark.parametrize(
    ("options", "setting"),
    [({"batch": 0}, "batch"), ({"retention": -1}, "retention"), ({"poll": 0}, "poll")],
)
def test_bad_relay_options_raise_a_configuration_error(
    outbox: Outbox, options: dict[str, Any], setting: str
) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        Relay(outbox, **options)


def test_an_emitter_refuses_something_that_is_not_a_session(outbox: Outbox) -> None:
    with pytest.raises(ConfigurationError, match="Session"):
        outbox.emitter(object())  # type: ignore[arg-type]


def test_status_without_a_database_url_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EVENTS_OUTBOX_DB", raising=False)
    assert main(["status", "-A", "tests.events_contrib.outbox_app"]) == 2
    assert "--db" in capsys.readouterr().err


def test_status_on_an_unreachable_database_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"
    assert main(["status", "-A", "tests.events_contrib.outbox_app", "--db", url]) == 3
    assert "database error" in capsys.readouterr().err


def test_a_table_name_too_long_for_a_notify_channel_is_refused(
    app: Celery, engine: Engine
) -> None:
    with pytest.raises(ConfigurationError, match="table"):
        Outbox(app, engine, table="t" * 64)


def test_a_row_without_an_envelope_stays_pending_and_the_others_are_relayed(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    with Session(outbox.engine) as session, session.begin():
        emitter = outbox.emitter(session, linker=OutboxLinker)
        emitter.emit("order.placed", 1)
        session.add(
            outbox.row_class(
                emission_id="0" * 32,
                event="order.placed",
                queue="q",
                message="{not json",
                created_at=datetime.now(timezone.utc),
            )
        )
        session.flush()
        emitter.emit("order.placed", 2)
    assert Relay(outbox).relay_batch() == 2
    (left,) = [row for row in rows(outbox) if row.published_at is None]
    assert left.message == "{not json"
    assert f"row {left.id} holds no envelope" in caplog.text
