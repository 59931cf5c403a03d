"""What publisher confirms cost: `emit` rate on RabbitMQ with confirms (the default) and without.

Run: `hatch run bench:confirms` (or `python benchmarks/confirms.py`) with RabbitMQ on
127.0.0.1:5672 (guest/guest). Options: `--amqp-url`, `--payload-bytes` (default 200),
`--number` (emits per run, default 1000) and `--repeat` (runs per case, default 5).

Two apps on one queue, installed alike but for `events_publish_confirm`: each emit of the
first waits for the broker's confirm, the second's returns once written to the socket. The
cases alternate within each repeat (AB, then BA); the best run of each is kept and the rate
without confirms is printed as a multiple of the rate with them. Nothing consumes: the queue is
unique to the run, purged between runs and deleted at the end. Exit status 0 whatever the
figures, 2 when the broker is unreachable, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import uuid
from importlib import import_module
from pathlib import Path

from events_celery import CeleryEventEmitter, install

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672//"


def main() -> int:
    """Measure both cases and print their rates and ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--amqp-url", default=DEFAULT_URL)
    parser.add_argument("--payload-bytes", type=int, default=200)
    parser.add_argument("--number", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.number < 1 or args.repeat < 1 or args.payload_bytes < 1:
        parser.error("--number, --repeat and --payload-bytes must be positive")
    publish = import_module("celery_publish")
    problem = publish.check_reachable("amqp", args.amqp_url)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2

    queue = f"bench.confirms.{uuid.uuid4().hex[:12]}"
    confirmed = publish.make_app("bench-confirmed", args.amqp_url)
    install(confirmed)
    unconfirmed = publish.make_app("bench-unconfirmed", args.amqp_url)
    unconfirmed.conf.events_publish_confirm = False
    install(unconfirmed)
    with_name, without_name = "with confirms (default)", "without confirms"
    cases = {
        with_name: CeleryEventEmitter(confirmed, queue=queue, linker=publish.Bench),
        without_name: CeleryEventEmitter(unconfirmed, queue=queue, linker=publish.Bench),
    }
    best = dict.fromkeys(cases, float("inf"))
    payloads = publish.make_payloads(args.number, args.payload_bytes)
    try:
        with publish.bench_queue(confirmed, queue) as purge:
            for emitter in cases.values():
                for payload in payloads[:100]:  # connects and declares before timing
                    emitter.emit(publish.EVENT, payload=payload)
            purge()
            names = list(cases)
            for index in range(args.repeat):
                for name in names if index % 2 == 0 else reversed(names):
                    emit = cases[name].emit
                    gc.collect()
                    started = time.perf_counter_ns()
                    for payload in payloads:
                        emit(publish.EVENT, payload=payload)
                    elapsed = time.perf_counter_ns() - started
                    best[name] = min(best[name], elapsed / len(payloads))
                    purge()
    except KeyboardInterrupt:
        print("\ninterrupted; the benchmark queue was deleted", file=sys.stderr)
        return 130
    finally:
        confirmed.close()
        unconfirmed.close()

    print(
        f"amqp: payload {args.payload_bytes} B, best of {args.repeat} x {args.number} emits, "
        "one emitting thread"
    )
    print(f"{'case':26} {'emits/s':>9} {'µs/emit':>9}")
    for name, ns in best.items():
        print(f"{name:26} {1e9 / ns:9.0f} {ns / 1000:9.1f}")
    with_ns, without_ns = best[with_name], best[without_name]
    print(f"\nwithout / with confirms = {with_ns / without_ns:.2f}x the rate")
    return 0


if __name__ == "__main__":
    # As in celery_publish.py: the linker's handler must not live in `__main__`.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(import_module(Path(__file__).stem).main())
