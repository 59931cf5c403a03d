"""End-to-end throughput with tracing and metrics on against off, measured in the same run.

Run: `hatch run bench:observability` (or `python benchmarks/observability.py`) with Redis on
127.0.0.1:6379. Options: `--broker-url`, `--number` (emissions per run, default 1000),
`--repeat` (runs per case, default 5), `--concurrency` (worker processes, default 2) and
`--sample-ratio` (the share of traces the SDK records, default 1: all).

Three real prefork workers (`celery worker -c 2`) start side by side, each on its own queue:
one with tracing (OpenTelemetry SDK, batched spans dropped by the exporter) and metrics
(`events_metrics_port`) on; one with the same add-ons but OpenTelemetry's no-op provider in
place of the SDK (what our add-ons' own code and prometheus_client cost, and what an app that
has opentelemetry-api installed but no SDK configured pays); and one with
`events_tracing = False` and no metrics. A run emits `--number` events from this process (its
producer app observed like the worker) and ends when the worker's handler has counted every
one of them (a Redis INCR); the other workers are idle meanwhile. The cases run in a rotated
order in each repeat so a noisy machine's drift falls on all of them; the best and the median
run of each are kept and the ratios to `off` of emissions per second printed.

Queues and counters are unique to the run and removed at the end; the workers are stopped by
pid, their logs kept in a temporary folder (printed). The exit status is 0 whatever the
figures, 2 when Redis is unreachable.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import redis
from celery import Celery
from processes import stop_by_pid

import events_celery
from events_celery import CeleryEventEmitter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


@dataclass
class Case:
    """One side of the comparison: its worker, queue and producer."""

    name: str
    label: str
    queue: str
    counter: str
    metrics_port: int | None
    process: subprocess.Popen[bytes] | None = None
    emitter: CeleryEventEmitter | None = None
    runs: list[float] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_worker(case: Case, broker_url: str, concurrency: int, log: Path) -> None:
    """Start the case's worker; return once it is ready."""
    env = dict(os.environ)
    env.update(
        BENCH_BROKER_URL=broker_url,
        BENCH_QUEUE=case.queue,
        BENCH_COUNTER=case.counter,
        BENCH_OBSERVE=case.name,
        BENCH_METRICS_PORT=str(case.metrics_port or 0),
        PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")]),
    )
    command = [
        sys.executable, "-m", "celery", "-A", "observability_worker", "worker", "-l", "INFO",
        "-Q", case.queue, "-c", str(concurrency), "-n", f"bench-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    handle = log.open("wb")
    case.process = subprocess.Popen(
        command, cwd=HERE, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text(errors="replace"):
        if case.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker {case.name} did not start:\n{log.read_text()}")
        time.sleep(0.1)


def stop_worker(case: Case) -> None:
    """Stop the case's worker by pid (warm shutdown, then SIGKILL of its group)."""
    if case.process is not None:
        stop_by_pid(case.process)


def run_once(case: Case, counter: redis.Redis, number: int, timeout: float = 300.0) -> float:
    """Emit `number` events and wait until the worker handled them all; return seconds."""
    from observability_worker import EVENT

    assert case.emitter is not None
    counter.delete(case.counter)
    emit = case.emitter.emit
    started = time.perf_counter()
    for order_id in range(number):
        emit(EVENT, order_id)
    deadline = time.monotonic() + timeout
    while int(counter.get(case.counter) or 0) < number:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{case.name}: not every emission ran within {timeout} s")
        time.sleep(0.002)
    return time.perf_counter() - started


def scraped_total(port: int) -> float:
    """`events_handled_total` summed over labels, from the worker's `/metrics`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("events_handled_total{")
    )


def main() -> int:
    """Start both workers, alternate the runs, print each case's best and the ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--number", type=int, default=1000, help="emissions per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (best is kept)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--sample-ratio",
        type=float,
        default=1.0,
        help="share of the traces the SDK records (ParentBased(TraceIdRatioBased)), default 1",
    )
    args = parser.parse_args()
    os.environ["BENCH_SAMPLE_RATIO"] = str(args.sample_ratio)
    from observability_worker import COUNTER_URL, Observed, observed_conf

    counter = redis.Redis.from_url(COUNTER_URL)
    try:
        counter.ping()
    except redis.RedisError as exc:
        print(f"Redis is unreachable: {exc}", file=sys.stderr)
        return 2
    tag = uuid.uuid4().hex[:8]
    cases = [
        Case(name, label, f"bench.observe.{name}.{tag}", f"bench:observe:{name}:{tag}", port)
        for name, label, port in (
            ("off", "tracing off, no metrics", None),
            ("api", "no-op tracer + metrics", free_port()),
            ("on", "tracing + metrics on", free_port()),
        )
    ]
    logs = Path(tempfile.mkdtemp(prefix="bench-observe-"))
    apps: list[Celery] = []
    try:
        for case in cases:
            start_worker(case, args.broker_url, args.concurrency, logs / f"{case.queue}.log")
            app = Celery(f"bench-producer-{case.name}", broker=args.broker_url)
            app.conf.update(events_default_queue=case.queue, **observed_conf(case.name))
            events_celery.install(app)
            apps.append(app)
            case.emitter = CeleryEventEmitter(app, linker=Observed)
            run_once(case, counter, min(args.number, 200))  # connections, pool warm-up
        for index in range(args.repeat):
            for case in cases[index % 3 :] + cases[: index % 3]:
                case.runs.append(run_once(case, counter, args.number))
        on = cases[2]
        assert on.metrics_port is not None
        handled = scraped_total(on.metrics_port)
    finally:
        for case in cases:
            stop_worker(case)
        for app in apps:
            with app.connection_for_write() as connection:
                for case in cases:
                    connection.default_channel.queue_delete(case.queue)
            app.close()
        for case in cases:
            counter.delete(case.counter)
    print(
        f"\nend-to-end on {args.broker_url}: {args.concurrency} prefork processes, "
        f"best of {args.repeat} x {args.number} emissions"
    )
    print(f"{'case':26} {'best /s':>8} {'median /s':>10}  runs (s)")
    best, middle = {}, {}
    for case in cases:
        best[case.name] = args.number / min(case.runs)
        middle[case.name] = args.number / statistics.median(case.runs)
        runs = " ".join(f"{run:.2f}" for run in case.runs)
        print(f"{case.label:26} {best[case.name]:8.0f} {middle[case.name]:10.0f}  {runs}")
    print()
    for name in ("api", "on"):
        print(
            f"{name} / off = {best[name] / best['off']:.2f}x (best runs), "
            f"{middle[name] / middle['off']:.2f}x (medians)"
        )
    print(f"(the observed worker's /metrics counted {handled:.0f} handler runs; logs in {logs})")
    return 0


if __name__ == "__main__":
    # Handlers in `__main__` cannot be named on the wire: import the worker module by name.
    sys.path.insert(0, str(HERE))
    sys.exit(import_module(Path(__file__).stem).main())
