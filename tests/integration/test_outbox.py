"""The outbox against real PostgreSQL, brokers, `events-outbox relay` processes and workers.

Each test has its own outbox table, queue and recorder; relays are subprocesses stopped by pid.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from events_contrib.outbox import Outbox
from tests.integration.brokers import PrivateRedis, free_port
from tests.integration.conftest import require
from tests.integration.support import (
    BROKERS,
    ROOT,
    Recorder,
    WorkerProcess,
    base_conf,
    make_app,
    worker_env,
)

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH = 100

pytestmark = pytest.mark.integration


@pytest.fixture
def engine() -> Iterator[Engine]:
    require(DATABASE_URL, "postgresql")
    found = create_engine(DATABASE_URL)
    yield found
    found.dispose()


@pytest.fixture
def table(engine: Engine) -> Iterator[str]:
    """An outbox table name no other test uses; dropped when the test ends."""
    name = f"itest_outbox_{uuid.uuid4().hex[:10]}"
    yield name
    Outbox(Celery(set_as_current=False), engine, table=name).drop_table()


RelayFactory = Callable[..., WorkerProcess]


@pytest.fixture
def relay_factory(tmp_path: Path, recorder: Recorder, table: str) -> Iterator[RelayFactory]:
    """Start `events-outbox relay` subprocesses; each is stopped by pid when the test ends."""
    started: list[WorkerProcess] = []

    def start(broker_url: str, conf: dict[str, Any], *options: str) -> WorkerProcess:
        log_path = tmp_path / f"relay-{len(started)}.log"
        command = [
            sys.executable, "-m", "events_contrib.outboxcli", "relay",
            "-A", "tests.integration.worker_app", "--db", DATABASE_URL, "--table", table,
            "--batch", str(BATCH), "--log-interval", "1", *options,
        ]  # fmt: skip
        log = log_path.open("wb")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=worker_env(broker_url, conf, recorder.key),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        relay = WorkerProcess(process, log_path)
        started.append(relay)
        relay.wait_log("relaying outbox")
        return relay

    yield start
    for relay in started:
        relay.stop()


def outbox_for(app: Celery, engine: Engine, table: str) -> Outbox:
    outbox = Outbox(app, engine, table=table)
    outbox.create_table()
    return outbox


def emit_committed(outbox: Outbox, numbers: range, per_transaction: int = 500) -> None:
    """Emit `itest.outboxed` for each number, `per_transaction` events per commit."""
    chunk = list(numbers)
    for start in range(0, len(chunk), per_transaction):
        with Session(outbox.engine) as session, session.begin():
            emitter = outbox.emitter(session)
            for number in chunk[start : start + per_transaction]:
                emitter.emit("itest.outboxed", number)


def handled(recorder: Recorder) -> Counter[int]:
    return Counter(record["number"] for record in recorder.records("outboxed"))


def wait_handled(recorder: Recorder, numbers: range, timeout: float = 60.0) -> Counter[int]:
    expected = set(numbers)
    deadline = time.monotonic() + timeout
    while True:
        counts = handled(recorder)
        if expected <= set(counts):
            return counts
        if time.monotonic() > deadline:
            missing = sorted(expected - set(counts))
            raise AssertionError(f"{len(missing)} events never handled, first {missing[:10]}")
        time.sleep(0.1)


def pending(outbox: Outbox) -> int:
    table = outbox.table
    with outbox.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).where(table.c.published_at.is_(None))
            ).scalar_one()
        )


def test_a_rolled_back_emit_is_never_handled_and_a_committed_one_once(
    broker_url: str,
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)
    with Session(engine) as session, session.begin():
        emitter = outbox.emitter(session)
        for number in range(100, 103):
            emitter.emit("itest.outboxed", number)
        session.flush()
        session.rollback()
    emit_committed(outbox, range(3))
    worker_factory(broker_url, [queue], conf)
    relay_factory(broker_url, conf)
    wait_handled(recorder, range(3))
    recorder.settle(2.0)
    assert handled(recorder) == Counter({0: 1, 1: 1, 2: 1})
    assert pending(outbox) == 0


def test_a_relay_killed_twice_mid_stream_loses_nothing_and_repeats_at_most_a_batch_per_kill(
    broker_url: str,
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)
    total = 5000
    emit_committed(outbox, range(total))
    worker_factory(broker_url, [queue], conf, concurrency=2)
    for left in (4000, 2000):
        relay = relay_factory(broker_url, conf)
        deadline = time.monotonic() + 60
        while pending(outbox) > left:
            assert time.monotonic() < deadline, "the relay made no progress"
            time.sleep(0.005)
        relay.kill_group()
    relay_factory(broker_url, conf)
    counts = wait_handled(recorder, range(total), timeout=90)
    duplicates = sum(count - 1 for count in counts.values())
    print(f"duplicates after two relay kills: {duplicates}")
    assert len(counts) == total
    assert duplicates <= 2 * BATCH, f"{duplicates} duplicates after two kills"
    assert pending(outbox) == 0


def test_sigterm_stops_a_relay_after_its_batch_so_a_new_one_repeats_nothing(
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    broker_url = BROKERS["redis"]
    require(broker_url, "redis")
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)
    total = 3000
    emit_committed(outbox, range(total))
    worker_factory(broker_url, [queue], conf, concurrency=2)
    relay = relay_factory(broker_url, conf)
    deadline = time.monotonic() + 60
    while pending(outbox) > total - 500:
        assert time.monotonic() < deadline, "the relay made no progress"
        time.sleep(0.005)
    relay.process.send_signal(signal.SIGTERM)
    assert relay.process.wait(timeout=30) == 0
    published = int(relay.log().rsplit("stopped after ", 1)[1].split()[0])
    assert 0 < published == total - pending(outbox)
    relay_factory(broker_url, conf)
    counts = wait_handled(recorder, range(total), timeout=90)
    recorder.settle(1.0)
    assert sum(handled(recorder).values()) == len(counts) == total


def test_two_relays_at_once_share_the_rows_without_losing_or_repeating_one(
    broker_url: str,
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)
    worker_factory(broker_url, [queue], conf, concurrency=2)
    relays = [relay_factory(broker_url, conf), relay_factory(broker_url, conf)]
    emit_committed(outbox, range(2000), per_transaction=50)
    counts = wait_handled(recorder, range(2000))
    recorder.settle(1.0)
    counts = handled(recorder)
    assert sum(counts.values()) == len(counts) == 2000, "SKIP LOCKED let a row out twice"
    for relay in relays:
        relay.stop()
        assert relay.process.returncode == 0
    shares = [int(relay.log().rsplit("stopped after ", 1)[1].split()[0]) for relay in relays]
    assert sum(shares) == 2000, shares


def test_a_relay_catches_up_after_the_broker_was_down_for_ten_seconds(
    private_redis: PrivateRedis,
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    conf = base_conf(queue)
    outbox = outbox_for(make_app(private_redis.url, conf), engine, table)
    worker_factory(private_redis.url, [queue], conf)
    relay = relay_factory(private_redis.url, conf)
    emit_committed(outbox, range(100))
    wait_handled(recorder, range(100))
    private_redis.stop()
    emit_committed(outbox, range(100, 300), per_transaction=20)
    relay.wait_log("the broker refused row", timeout=30)
    time.sleep(10)
    assert pending(outbox) == 200
    private_redis.start()
    counts = wait_handled(recorder, range(300), timeout=90)
    assert set(counts) == set(range(300))
    assert pending(outbox) == 0
    assert "200 pending" in relay.log()  # the progress line, during the outage
    relay.stop()
    assert relay.process.returncode == 0


def test_a_relay_listens_again_when_its_notify_connection_is_killed(
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    broker_url = BROKERS["redis"]
    require(broker_url, "redis")
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)
    worker_factory(broker_url, [queue], conf)
    # Polling once a minute: only a working NOTIFY hands the events over within the wait.
    relay = relay_factory(broker_url, conf, "--poll", "60")
    listening = text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE query = :query AND pid <> pg_backend_pid()"
    )
    with engine.begin() as connection:
        killed = connection.execute(listening, {"query": f'LISTEN "{table}"'}).all()
    assert killed == [(True,)]
    relay.wait_log("NOTIFY listener failed")
    emit_committed(outbox, range(3))
    wait_handled(recorder, range(3), timeout=30)
    emit_committed(outbox, range(3, 6))
    wait_handled(recorder, range(6), timeout=30)


def test_one_transaction_s_events_are_handled_in_emitted_order(
    broker_url: str,
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)
    worker_factory(broker_url, [queue], conf, concurrency=1)
    relay_factory(broker_url, conf)
    emit_committed(outbox, range(100), per_transaction=100)
    wait_handled(recorder, range(100))
    assert [record["number"] for record in recorder.records("outboxed")] == list(range(100))


def test_an_async_session_commits_its_events_and_its_rollback_drops_them(
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    broker_url = BROKERS["redis"]
    require(broker_url, "redis")
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)

    async def emit() -> None:
        async_engine = create_async_engine(DATABASE_URL)
        try:
            async with AsyncSession(async_engine) as session:
                async with session.begin():
                    emitter = outbox.emitter(session)
                    for number in range(5):
                        emitter.emit("itest.outboxed", number)
                async with session.begin():
                    outbox.emitter(session).emit("itest.outboxed", 99)
                    await session.flush()
                    await session.rollback()
        finally:
            await async_engine.dispose()

    asyncio.run(emit())
    assert pending(outbox) == 5
    worker_factory(broker_url, [queue], conf)
    relay_factory(broker_url, conf)
    wait_handled(recorder, range(5))
    recorder.settle(1.5)
    assert handled(recorder) == Counter(dict.fromkeys(range(5), 1))


def test_status_reports_pending_rows_and_the_relay_lag(
    queue: str, engine: Engine, table: str, relay_factory: RelayFactory
) -> None:
    broker_url = BROKERS["redis"]
    require(broker_url, "redis")
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)
    emit_committed(outbox, range(3))

    def status() -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "events_contrib.outboxcli", "status", "-A",
             "tests.integration.worker_app", "--db", DATABASE_URL, "--table", table, "--json"],
            cwd=ROOT, env=worker_env(broker_url, conf, "unused"), capture_output=True,
            check=True, timeout=60,
        )  # fmt: skip
        return dict(json.loads(done.stdout))

    before = status()
    assert before["pending"] == 3
    assert before["lag_seconds"] is None
    assert before["oldest_pending_seconds"] >= 0
    relay = relay_factory(broker_url, conf)
    deadline = time.monotonic() + 30
    while pending(outbox):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    after = status()
    assert after["pending"] == 0
    assert after["oldest_pending_seconds"] is None
    assert after["lag_seconds"] >= 0
    assert after["published_kept"] == 3
    relay.process.send_signal(signal.SIGTERM)
    assert relay.process.wait(timeout=30) == 0


def test_a_relay_serves_its_metrics_on_a_port(
    queue: str,
    engine: Engine,
    table: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    relay_factory: RelayFactory,
) -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    broker_url = BROKERS["redis"]
    require(broker_url, "redis")
    conf = base_conf(queue)
    outbox = outbox_for(make_app(broker_url, conf), engine, table)
    emit_committed(outbox, range(250))

    def scrape(port: int) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            found = response.read().decode()
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(found)
            for sample in family.samples
            if sample.name.startswith("events_outbox_")
        }

    def wait_for(port: int, name: str, value: float) -> dict[str, float]:
        deadline = time.monotonic() + 30
        while (samples := scrape(port)).get(name) != value:
            assert time.monotonic() < deadline, samples
            time.sleep(0.2)
        return samples

    # A relay whose broker is down publishes nothing and reports what waits.
    stuck_port = free_port()
    stuck = relay_factory(
        f"redis://127.0.0.1:{free_port()}/0", conf, "--metrics-port", str(stuck_port)
    )
    samples = wait_for(stuck_port, "events_outbox_pending", 250)
    assert samples["events_outbox_relayed_total"] == 0
    stuck.stop()

    worker_factory(broker_url, [queue], conf)
    port = free_port()
    relay_factory(broker_url, conf, "--metrics-port", str(port))
    wait_handled(recorder, range(250))
    samples = wait_for(port, "events_outbox_pending", 0)
    assert samples["events_outbox_relayed_total"] == 250
    assert samples["events_outbox_lag_seconds"] >= 0
