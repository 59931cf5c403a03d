"""Publishes per second on a real broker: `CeleryEventEmitter.emit` against raw `apply_async`.

Run: `hatch run bench:publish` (or `python benchmarks/celery_publish.py`) with Redis on
127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672 (guest/guest). Options: `--brokers redis,amqp`,
`--redis-url`, `--amqp-url`, `--payload-bytes` (JSON size of the payload, default 200),
`--number` (publishes per run) and `--repeat` (runs per case, the best is kept).

Per broker, on one Celery app and one queue, it times three cases with the same payloads:
raw `noop.apply_async(args=(payload,), queue=...)` of a no-op task, our
`CeleryEventEmitter(app, linker=Bench).emit("bench.order", payload=...)`, and the same emitter on
an app with a signing key (HMAC-SHA256). Connections are opened and queues declared before
timing; the cases alternate within each repeat (ABC, then CBA) so the drift of a noisy machine
falls on all of them. On RabbitMQ all three are confirmed: `install` turns on the transport's
`confirm_publish` for the app (`bench:confirms` measures what that costs). Every figure is
printed as a ratio to raw `apply_async`; `msg B` is the JSON size of the task message each case
sends (args, kwargs and embed: our envelope included).

Nothing consumes: the queue is unique to the run, purged between runs and deleted with its
exchange at the end, also on Ctrl-C. The exit status is 0 whatever the figures (this informs,
it asserts nothing), 2 when a broker is unreachable, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import before_task_publish
from kombu import Connection, Queue
from kombu.utils.url import maybe_sanitize_url

from events_celery import CeleryEventEmitter, install
from events_core import EventLinker

DEFAULT_URLS = {
    "redis": "redis://127.0.0.1:6379/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}
EVENT = "bench.order"
SIGNING_KEY = "celery-publish-benchmark-key"
RAW = "raw apply_async"
OURS = "CeleryEventEmitter"
SIGNED = "CeleryEventEmitter, HMAC-signed"
TARGET = 0.90


class Bench(EventLinker):
    """Linker used only by this benchmark."""


@Bench.on(EVENT)
def on_order(payload: dict[str, Any]) -> None:
    """The one handler; it never runs, as nothing consumes the queue."""


Run = Callable[[list[dict[str, Any]]], None]


@dataclass
class Case:
    """One way of publishing, measured on one broker."""

    name: str
    run: Run
    app: Celery
    message_bytes: int = 0
    best_ns: float = float("inf")


def make_payloads(number: int, size: int) -> list[dict[str, Any]]:
    """`number` distinct orders whose JSON is `size` bytes (a little more if `size` is tiny)."""

    def order(order_id: int, sku: str) -> dict[str, Any]:
        lines = [
            {"sku": "A-1", "qty": 2, "price": "9.99"},
            {"sku": "B-2", "qty": 1, "price": "4.5"},
        ]
        return {"order_id": order_id, "sku": sku, "lines": lines}

    base = len(json.dumps(order(100_000, "")))
    sku = "x" * max(size - base, 1)
    return [order(100_000 + n, sku) for n in range(number)]


def check_reachable(name: str, url: str) -> str | None:
    """Return why the broker at `url` cannot be reached, or None when it can."""
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
            connection.default_channel  # noqa: B018  (opens a channel: Redis pings here)
    except Exception as exc:
        where = maybe_sanitize_url(url)
        return f"{name} broker at {where} is unreachable: {type(exc).__name__}: {exc}"
    return None


def make_app(name: str, url: str) -> Celery:
    """A producer-only app: no result backend, quick to give up on a dead broker."""
    app = Celery(name, broker=url, set_as_current=False)
    app.conf.broker_connection_timeout = 3
    return app


@contextmanager
def bench_queue(app: Celery, name: str) -> Iterator[Callable[[], None]]:
    """Declare the run's queue; yield a function that purges it; delete it and its exchange."""
    queue: Queue = app.amqp.queues[name]  # what `apply_async(queue=name)` creates
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        bound = queue.bind(channel)
        bound.declare()
        try:
            yield bound.purge
        finally:
            bound.delete()
            bound.exchange.delete()


def message_bytes(app: Celery, publish: Callable[[], None]) -> int:
    """JSON size of the task message (args, kwargs, embed) that `publish` sends."""
    sizes: list[int] = []

    def record(body: Any, **_: Any) -> None:
        sizes.append(len(json.dumps(body)))

    before_task_publish.connect(record, weak=False)
    try:
        publish()
    finally:
        before_task_publish.disconnect(record)
    return sizes[-1]


def make_cases(url: str, queue: str) -> list[Case]:
    """The three cases, on an app of their own for the signed one (settings are per app)."""
    app = make_app("bench-publish", url)

    @app.task(name="bench.noop", shared=False)
    def noop(payload: dict[str, Any]) -> None:
        """Never runs."""

    install(app)
    signed_app = make_app("bench-publish-signed", url)
    install(signed_app, signing_key=SIGNING_KEY)

    def raw(payloads: list[dict[str, Any]]) -> None:
        apply_async = noop.apply_async
        for payload in payloads:
            apply_async(args=(payload,), queue=queue)

    def emitter_run(emitter: CeleryEventEmitter) -> Run:
        def run(payloads: list[dict[str, Any]]) -> None:
            emit = emitter.emit
            for payload in payloads:
                emit(EVENT, payload=payload)

        return run

    ours = CeleryEventEmitter(app, queue=queue, linker=Bench)
    signed = CeleryEventEmitter(signed_app, queue=queue, linker=Bench)
    return [
        Case(RAW, raw, app),
        Case(OURS, emitter_run(ours), app),
        Case(SIGNED, emitter_run(signed), signed_app),
    ]


def measure(url: str, payloads: list[dict[str, Any]], repeat: int) -> list[Case]:
    """Time every case on one broker; the queue is gone when this returns or raises."""
    queue = f"bench.publish.{uuid.uuid4().hex[:12]}"
    cases = make_cases(url, queue)
    try:
        with bench_queue(cases[0].app, queue) as purge:
            sample = payloads[:1]
            for case in cases:
                case.message_bytes = message_bytes(case.app, lambda run=case.run: run(sample))
                case.run(payloads[:200])  # opens the connections, declares the queue
            purge()
            for index in range(repeat):
                for case in cases if index % 2 == 0 else reversed(cases):
                    gc.collect()
                    started = time.perf_counter_ns()
                    case.run(payloads)
                    elapsed = time.perf_counter_ns() - started
                    case.best_ns = min(case.best_ns, elapsed / len(payloads))
                    purge()
    finally:
        for app in {id(case.app): case.app for case in cases}.values():
            app.close()
    return cases


def print_table(
    broker: str, url: str, payload_bytes: int, cases: list[Case], args: argparse.Namespace
) -> None:
    """One broker's table: each case's message size, rate, time per emit and ratio to raw."""
    raw = next(case for case in cases if case.name == RAW)
    safe_url = maybe_sanitize_url(url)
    print(
        f"\n{broker} ({safe_url}): payload {payload_bytes} B JSON, "
        f"best of {args.repeat} x {args.number} publishes"
    )
    print(f"{'case':34} {'msg B':>7} {'emits/s':>10} {'µs/emit':>9} {'x raw':>7}")
    for case in cases:
        rate = 1e9 / case.best_ns
        ratio = raw.best_ns / case.best_ns
        print(
            f"{case.name:34} {case.message_bytes:7d} {rate:10.0f} "
            f"{case.best_ns / 1000:9.1f} {ratio:7.2f}"
        )


def main() -> int:
    """Measure every case on every broker asked for and print the tables and a summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--brokers", default="redis,amqp", help="comma-separated: redis, amqp")
    parser.add_argument("--redis-url", default=DEFAULT_URLS["redis"])
    parser.add_argument("--amqp-url", default=DEFAULT_URLS["amqp"])
    parser.add_argument("--payload-bytes", type=int, default=200, help="JSON size of a payload")
    parser.add_argument("--number", type=int, default=2000, help="publishes per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (best is kept)")
    args = parser.parse_args()
    brokers = [name.strip() for name in args.brokers.split(",") if name.strip()]
    unknown = [name for name in brokers if name not in DEFAULT_URLS]
    if unknown or not brokers:
        parser.error(f"--brokers takes redis and/or amqp, got {args.brokers!r}")
    if args.number < 1 or args.repeat < 1 or args.payload_bytes < 1:
        parser.error("--number, --repeat and --payload-bytes must be positive")
    urls = {"redis": args.redis_url, "amqp": args.amqp_url}

    problems = [p for p in (check_reachable(b, urls[b]) for b in brokers) if p is not None]
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2

    payloads = make_payloads(args.number, args.payload_bytes)
    payload_bytes = len(json.dumps(payloads[0]))
    summary: list[str] = []
    try:
        for broker in brokers:
            cases = measure(urls[broker], payloads, args.repeat)
            print_table(broker, urls[broker], payload_bytes, cases, args)
            raw, ours = cases[0].best_ns, cases[1].best_ns
            summary.append(
                f"{broker}: {OURS} / raw apply_async = {raw / ours:.2f}x (target >= {TARGET:.2f}x)"
            )
    except KeyboardInterrupt:
        print("\ninterrupted; the benchmark queue was deleted", file=sys.stderr)
        return 130
    print()
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    # A remote emitter refuses handlers defined in `__main__` (no worker could import them by
    # that path), so run this file as the module it is: `celery_publish`.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(import_module(Path(__file__).stem).main())
