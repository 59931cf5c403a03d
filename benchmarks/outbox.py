"""What the outbox costs: relay throughput and commit-to-handler latency, NOTIFY against polling.

Run: `hatch run bench:outbox` (or `python benchmarks/outbox.py`) with PostgreSQL on
127.0.0.1:5432 and Redis on 127.0.0.1:6379. Options: `--db`, `--redis-url`, `--number`
(events of the throughput case, default 5000), `--latency-number` (default 200), `--gap`
(seconds between the latency case's commits, default 0.01) and `--batch` (default 100).

One real prefork worker (`-c 2`) handles every case. Three cases run in the same process:

- direct: `CeleryEventEmitter.emit`, no database (the baseline);
- outbox, notify: one transaction per event, an `events-outbox relay` woken by NOTIFY;
- outbox, polling: the same with `--no-notify` (it looks every second).

Throughput: `--number` direct emits (the baseline: the relay publishes each row as `emit`
does), and `--number` events committed in one transaction with the relay idle, timed from the
commit until the table has no pending row (commit to broker). Latency: `--latency-number`
events, one commit each, `--gap` apart, timed from each commit (or emit) until the handler ran.
Tables, queues and keys are unique to the run and removed at the end. Exit status 0 whatever the
figures, 2 when a service is unreachable.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import redis
from celery import Celery
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

import events_celery
from events_celery import CeleryEventEmitter
from events_contrib.outbox import Outbox

HERE = Path(__file__).resolve().parent
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def reachable(url: str) -> bool:
    """Whether something listens at the host and port of `url`."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def start(
    command: list[str], env: dict[str, str], log: Path, ready: str
) -> subprocess.Popen[bytes]:
    """Start a subprocess logging to `log`; return once `ready` is in the log."""
    process = subprocess.Popen(
        command, cwd=HERE, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while ready not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{command[2:5]} did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL of the group if it hangs."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Handled:
    """The handler's records: number -> when it ran."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    def wait(self, count: int, timeout: float = 120.0) -> dict[int, float]:
        deadline = time.monotonic() + timeout
        while self.client.llen(self.key) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {self.client.llen(self.key)} of {count} handled")
            time.sleep(0.01)
        found: dict[int, float] = {}
        for item in self.client.lrange(self.key, 0, -1):
            number, at = item.split()
            found.setdefault(int(number), float(at))
        self.client.delete(self.key)
        return found


def pending(outbox: Outbox) -> int:
    table = outbox.table
    with outbox.engine.connect() as connection:
        query = select(func.count()).where(table.c.published_at.is_(None))
        return int(connection.execute(query).scalar_one())


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return statistics.median(latencies) * 1000, cuts[98] * 1000


def rate_direct(app: Celery, handled: Handled, number: int) -> float:
    """Events/s of `CeleryEventEmitter.emit` to the same broker: what the relay is held to."""
    emitter = CeleryEventEmitter(app, resolve="worker")
    started = time.monotonic()
    for n in range(number):
        emitter.emit("bench.outbox", n)
    rate = number / (time.monotonic() - started)
    handled.wait(number)
    return rate


def latency_direct(app: Celery, handled: Handled, number: int, gap: float) -> list[float]:
    emitter = CeleryEventEmitter(app, resolve="worker")
    sent: dict[int, float] = {}
    for n in range(number):
        sent[n] = time.time()
        emitter.emit("bench.outbox", n)
        time.sleep(gap)
    ran = handled.wait(number)
    return [ran[n] - sent[n] for n in range(number)]


def run_outbox(
    app: Celery,
    engine: Engine,
    handled: Handled,
    env: dict[str, str],
    args: argparse.Namespace,
    notify: bool,
    logs: Path,
) -> tuple[float, list[float]]:
    """Throughput (events/s, commit to broker) and latencies (s) of one relay mode."""
    table = f"bench_outbox_{uuid.uuid4().hex[:10]}"
    outbox = Outbox(app, engine, table=table)
    outbox.create_table()
    command = [
        sys.executable, "-m", "events_contrib.outboxcli", "relay", "-A", "outbox_worker",
        "--db", args.db, "--table", table, "--batch", str(args.batch), "--retention", "0",
    ]  # fmt: skip
    if not notify:
        command.append("--no-notify")
    relay = start(command, env, logs / f"relay-{notify}.log", "relaying outbox")
    try:
        with Session(engine) as session, session.begin():
            emitter = outbox.emitter(session, resolve="worker")
            for n in range(args.number):
                emitter.emit("bench.outbox", n)
        committed = time.monotonic()
        while pending(outbox):
            time.sleep(0.002)
        rate = args.number / (time.monotonic() - committed)
        handled.wait(args.number)
        sent: dict[int, float] = {}
        for n in range(args.latency_number):
            with Session(engine) as session, session.begin():
                outbox.emitter(session, resolve="worker").emit("bench.outbox", n)
            sent[n] = time.time()
            time.sleep(args.gap)
        ran = handled.wait(args.latency_number)
        return rate, [ran[n] - sent[n] for n in range(args.latency_number)]
    finally:
        stop(relay)
        outbox.drop_table()


def main() -> int:
    """Measure the three cases and print their figures and ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--number", type=int, default=5000)
    parser.add_argument("--latency-number", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.01)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    if min(args.number, args.latency_number, args.batch) < 2 or args.gap < 0:
        parser.error("--number, --latency-number and --batch must be 2 or more, --gap >= 0")
    for url, name in ((args.db, "postgresql"), (args.redis_url, "redis")):
        if not reachable(url):
            print(f"{name} is not reachable at {url}", file=sys.stderr)
            return 2

    queue = f"bench.outbox.{uuid.uuid4().hex[:12]}"
    key = f"bench:outbox:{uuid.uuid4().hex}"
    env = dict(os.environ, BENCH_BROKER_URL=args.redis_url, BENCH_QUEUE=queue, BENCH_KEY=key)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    app = Celery("bench-outbox-producer", broker=args.redis_url, set_as_current=False)
    app.conf.events_default_queue = queue
    events_celery.install(app)
    engine = create_engine(args.db)
    client = redis.Redis.from_url(args.redis_url, decode_responses=True)
    handled = Handled(client, key)
    logs = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    worker = start(
        [sys.executable, "-m", "celery", "-A", "outbox_worker", "worker", "-l", "INFO",
         "-c", "2", "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env, logs / "worker.log", "ready.",
    )  # fmt: skip
    try:
        direct_rate = rate_direct(app, handled, args.number)
        direct = latency_direct(app, handled, args.latency_number, args.gap)
        notify_rate, notify = run_outbox(app, engine, handled, env, args, True, logs)
        poll_rate, poll = run_outbox(app, engine, handled, env, args, False, logs)
    finally:
        stop(worker)
        client.delete(key, queue)
        client.close()
        engine.dispose()
    base50, base99 = percentiles(direct)
    print(f"relay throughput, {args.number} events in one commit, batch {args.batch}:")
    print(f"  direct emit (baseline)  {direct_rate:7.0f} events/s")
    for name, rate in (("outbox, notify", notify_rate), ("outbox, polling", poll_rate)):
        print(f"  {name:<22}  {rate:7.0f} events/s  ({rate / direct_rate:.2f}x the baseline)")
    print(f"commit-to-handler latency, {args.latency_number} events, {args.gap} s apart:")
    print(f"  direct emit (baseline)  p50 {base50:7.1f} ms  p99 {base99:7.1f} ms")
    for name, found in (("outbox, notify", notify), ("outbox, polling", poll)):
        p50, p99 = percentiles(found)
        print(
            f"  {name:<22}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
            f"  ({p50 / base50:.1f}x / {p99 / base99:.1f}x the baseline)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
