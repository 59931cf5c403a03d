"""End to end on real workers: raw Celery, our `emit`, our `batch()` and Pyventus 0.6.

Run: `hatch run bench:e2e` (or `python benchmarks/celery_e2e.py`) with Redis on
127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672 (guest/guest). Options: `--brokers redis,amqp`,
`--number` (emissions per run, default 2000), `--repeat` (runs per case, default 3; the best
is kept), `--batch-size` (default 100), `--concurrency` (worker processes, default 2) and
`--chart PATH` (a PNG of the figures; default: none).

Per broker, one `celery worker --concurrency 2` subprocess (prefork) consumes the run's own
three queues, and four cases publish the same `number` emissions of `(seq, key)` to it:

- `raw Celery`: `task.apply_async(args=(seq, key))` of a plain task;
- `emit`: `CeleryEventEmitter(app).emit("bench.e2e", seq, key)`;
- `batch() of 100`: the same emits inside `with emitter.batch():`, 100 per block;
- `Pyventus 0.6`: Pyventus's `CeleryEventEmitter(...).emit("bench.e2e", seq, key)`.

Every handler (or task) appends its start time to a Redis list. For each case: throughput is
`number` / (last handler start - first publish), the publish rate is `number` / the time the
publishing loop took, and the latency of an emission runs from the call that emitted it (for a
batch: its `emit` inside the block) to its handler's start. The cases run in a rotated order
in each repeat, after a warm-up, so a noisy machine's drift falls on all of them; every
figure is printed as a ratio to raw Celery. On RabbitMQ every publish is confirmed (`install`
turns publisher confirms on for the app the cases share). events-contrib's tracing add-on is
off on both sides (`events_tracing = False`): the other cases trace nothing.

The queues are unique to the run and deleted at the end, and the worker is stopped by its
pid, also on Ctrl-C. The exit status is 0 whatever the figures (this informs, it asserts
nothing), 2 when a broker is unreachable, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from kombu import Connection
from processes import stop_by_pid

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_URLS = {
    "redis": "redis://127.0.0.1:6379/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}
RAW = "raw Celery"
EMIT = "emit"
PYVENTUS = "Pyventus 0.6"

Publish = Callable[[int, str, list[float]], None]


@dataclass
class Result:
    """One run of one case."""

    throughput: float
    publish_rate: float
    p50_ms: float
    p99_ms: float


@dataclass
class Case:
    """One way of emitting, measured on one broker."""

    name: str
    publish: Publish
    results: list[Result] = field(default_factory=list)

    def best(self) -> Result:
        """The run of highest throughput (its own publish rate and latencies)."""
        return max(self.results, key=lambda result: result.throughput)


def batch_name(size: int) -> str:
    return f"batch() of {size}"


def check_reachable(name: str, url: str) -> str | None:
    """Return why the broker at `url` cannot be reached, or None when it can."""
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
            connection.default_channel  # noqa: B018  (opens a channel: Redis pings here)
    except Exception as exc:
        return f"{name} broker is unreachable: {type(exc).__name__}: {exc}"
    return None


def start_worker(url: str, queues: dict[str, str], concurrency: int, log: Path) -> Any:
    """Start the worker subprocess in its own process group; return it once ready."""
    env = dict(os.environ)
    env.update(
        BENCH_E2E_BROKER_URL=url,
        BENCH_E2E_QUEUES=",".join((queues["raw"], queues["ours"], queues["pyventus"])),
        PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")]),
    )
    command = [
        sys.executable, "-m", "celery", "-A", "celery_e2e_worker", "worker", "-l", "WARNING",
        "-Q", ",".join(queues.values()), "-c", str(concurrency), "-P", "prefork",
        "-n", f"bench-e2e-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    handle = log.open("wb")
    return subprocess.Popen(
        command, cwd=HERE, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def make_cases(app: Celery, queues: dict[str, str], batch_size: int) -> list[Case]:
    """The four cases, publishing through the one producer app."""
    from celery_e2e_worker import E2E, EVENT, RAW_TASK, pyventus_emitter

    from events_celery import CeleryEventEmitter

    task = app.tasks[RAW_TASK]
    ours = CeleryEventEmitter(app, linker=E2E)
    theirs = pyventus_emitter(app, queues["pyventus"])

    def raw(number: int, key: str, sent: list[float]) -> None:
        apply_async, queue, now = task.apply_async, queues["raw"], time.time
        for seq in range(number):
            sent[seq] = now()
            apply_async(args=(seq, key), queue=queue)

    def emit(number: int, key: str, sent: list[float]) -> None:
        emit, now = ours.emit, time.time
        for seq in range(number):
            sent[seq] = now()
            emit(EVENT, seq, key)

    def batched(number: int, key: str, sent: list[float]) -> None:
        emit, now = ours.emit, time.time
        for start in range(0, number, batch_size):
            with ours.batch():
                for seq in range(start, min(start + batch_size, number)):
                    sent[seq] = now()
                    emit(EVENT, seq, key)

    def pyventus(number: int, key: str, sent: list[float]) -> None:
        emit, now = theirs.emit, time.time
        for seq in range(number):
            sent[seq] = now()
            emit(EVENT, seq, key)

    return [
        Case(RAW, raw),
        Case(EMIT, emit),
        Case(batch_name(batch_size), batched),
        Case(PYVENTUS, pyventus),
    ]


def run_once(case: Case, records: redis.Redis, number: int, timeout: float = 120.0) -> Result:
    """Publish `number` emissions with `case` and wait until every handler has started."""
    key = f"bench:e2e:{uuid.uuid4().hex}"
    sent = [0.0] * number
    started = time.perf_counter()
    case.publish(number, key, sent)
    publish_seconds = time.perf_counter() - started
    deadline = time.monotonic() + timeout
    while records.llen(key) < number:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{case.name}: {records.llen(key)} of {number} ran in {timeout} s")
        time.sleep(0.005)
    starts = [0.0] * number
    for raw in records.lrange(key, 0, -1):
        seq, at = raw.split()
        starts[int(seq)] = float(at)
    records.delete(key)
    latencies = sorted(start - sent[seq] for seq, start in enumerate(starts))
    quantiles = statistics.quantiles(latencies, n=100)
    return Result(
        throughput=number / (max(starts) - sent[0]),
        publish_rate=number / publish_seconds,
        p50_ms=quantiles[49] * 1000,
        p99_ms=quantiles[98] * 1000,
    )


def delete_queues(app: Celery, names: list[str]) -> None:
    """Delete the run's queues (and their exchanges) from the broker."""
    with app.connection_for_write() as connection:
        for name in names:
            # The queue as `apply_async(queue=name)` declared it, with its exchange of that name.
            bound = app.amqp.queues[name].bind(connection.default_channel)
            bound.delete()
            bound.exchange.delete()
        if connection.transport.driver_type == "redis":
            # kombu's Redis transport keeps an exchange's bindings under keys of its own.
            client = connection.default_channel.client
            for name in names:
                client.delete(f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")


def measure(url: str, args: argparse.Namespace, log: Path) -> list[Case]:
    """Time every case on one broker; the worker is stopped and the queues gone after."""
    from celery_e2e_worker import RECORDS_URL
    from celery_e2e_worker import make_app as make_worker_app

    run = uuid.uuid4().hex[:10]
    queues = {name: f"bench.e2e.{run}.{name}" for name in ("raw", "ours", "pyventus")}
    app = make_worker_app(url, queues)
    records = redis.Redis.from_url(RECORDS_URL, decode_responses=True)
    worker = start_worker(url, queues, args.concurrency, log)
    try:
        cases = make_cases(app, queues, args.batch_size)
        for case in cases:  # warm-up (the first waits for the worker to start)
            try:
                run_once(case, records, min(args.number, 200), timeout=90)
            except RuntimeError as exc:
                log_text = log.read_text(errors="replace")
                raise RuntimeError(f"the worker did not run the warm-up:\n{log_text}") from exc
        for index in range(args.repeat):
            shift = index % len(cases)
            for case in cases[shift:] + cases[:shift]:
                case.results.append(run_once(case, records, args.number))
    finally:
        stop_by_pid(worker)
        delete_queues(app, list(queues.values()))
        app.close()
        records.close()
    return cases


def print_table(broker: str, cases: list[Case], args: argparse.Namespace) -> None:
    """One broker's figures, each with its ratio to raw Celery."""
    raw = next(case for case in cases if case.name == RAW).best()
    print(
        f"\n{broker}: {args.number} emissions per run, best of {args.repeat}, "
        f"worker --concurrency {args.concurrency}"
    )
    print(
        f"{'case':16} {'emissions/s':>11} {'x raw':>6} {'publish/s':>10} {'x raw':>6} "
        f"{'p50 ms':>8} {'p99 ms':>8}"
    )
    for case in cases:
        best = case.best()
        print(
            f"{case.name:16} {best.throughput:11.0f} {best.throughput / raw.throughput:6.2f} "
            f"{best.publish_rate:10.0f} {best.publish_rate / raw.publish_rate:6.2f} "
            f"{best.p50_ms:8.1f} {best.p99_ms:8.1f}"
        )


def write_chart(path: Path, figures: dict[str, list[Case]]) -> None:
    """Bars of throughput and publish rate per case, one group per broker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    brokers = list(figures)
    names = [case.name for case in figures[brokers[0]]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / len(names)
    for axis, metric, title in (
        (axes[0], "throughput", "End-to-end throughput (emissions/s)"),
        (axes[1], "publish_rate", "Publish rate (emissions/s)"),
    ):
        for index, name in enumerate(names):
            values = [
                getattr(next(c for c in figures[b] if c.name == name).best(), metric)
                for b in brokers
            ]
            offset = (index - (len(names) - 1) / 2) * width
            positions = [group + offset for group in range(len(brokers))]
            bars = axis.bar(positions, values, width, label=name)
            axis.bar_label(bars, fmt="%.0f", fontsize=7)
        axis.set_xticks(range(len(brokers)), brokers)
        axis.set_title(title, fontsize=10)
        axis.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("Celery worker --concurrency 2 (prefork), one handler per emission", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    """Measure every case on every broker asked for and print the tables and a summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--brokers", default="redis,amqp", help="comma-separated: redis, amqp")
    parser.add_argument("--redis-url", default=DEFAULT_URLS["redis"])
    parser.add_argument("--amqp-url", default=DEFAULT_URLS["amqp"])
    parser.add_argument("--number", type=int, default=2000, help="emissions per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best is kept)")
    parser.add_argument("--batch-size", type=int, default=100, help="emissions per batch()")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--chart", type=Path, default=None, help="write a PNG chart here")
    args = parser.parse_args()
    brokers = [name.strip() for name in args.brokers.split(",") if name.strip()]
    if not brokers or any(name not in DEFAULT_URLS for name in brokers):
        parser.error(f"--brokers takes redis and/or amqp, got {args.brokers!r}")
    if min(args.number, args.repeat, args.batch_size, args.concurrency) < 1 or args.number < 100:
        parser.error("--number must be at least 100; the other counts positive")
    urls = {"redis": args.redis_url, "amqp": args.amqp_url}
    problems = [p for p in (check_reachable(b, urls[b]) for b in brokers) if p is not None]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2

    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {python}")
    figures: dict[str, list[Case]] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for broker in brokers:
                figures[broker] = measure(urls[broker], args, Path(folder) / f"{broker}.log")
                print_table(broker, figures[broker], args)
    except KeyboardInterrupt:
        print("\ninterrupted; the worker was stopped and the queues deleted", file=sys.stderr)
        return 130
    print()
    for broker, cases in figures.items():
        raw = cases[0].best()
        batch = next(c for c in cases if c.name == batch_name(args.batch_size)).best()
        emit = next(c for c in cases if c.name == EMIT).best()
        print(
            f"{broker}: batch() throughput {batch.throughput / raw.throughput:.2f}x raw "
            f"(goal >= 5x), batch() publish rate {batch.publish_rate / raw.publish_rate:.2f}x "
            f"apply_async (goal >= 10x), emit throughput {emit.throughput / raw.throughput:.2f}x "
            f"raw (goal >= 1.0x)"
        )
    if args.chart is not None:
        write_chart(args.chart, figures)
        print(f"chart written to {args.chart}")
    return 0


if __name__ == "__main__":
    # A remote emitter refuses handlers defined in `__main__`; run this file as its module,
    # with the worker module importable by the same path the worker uses.
    sys.path.insert(0, str(HERE))
    sys.exit(import_module(Path(__file__).stem).main())
