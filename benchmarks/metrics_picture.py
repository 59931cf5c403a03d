"""Draws `docs/guides/images/handled-by-outcome.png`: a worker's handler runs per second.

Run: `hatch run bench:picture` with Redis on 127.0.0.1:6379. It starts one prefork worker
(`-c 2`) with metrics on, emits `bench.observed.flaky` events at a steady pace for `--seconds`
(a handler whose first run fails for one order in four, and every run for one in twenty,
retried once after 0.5 s), scrapes the worker's `/metrics`
twice a second and plots the rate of `events_handled_total` by outcome, as a Prometheus graph
of `rate(events_handled_total[1s])` would show it. Options: `--rate` (emissions per second),
`--seconds`, `--output`.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import urllib.request
import uuid
from collections import defaultdict
from importlib import import_module
from pathlib import Path

import redis
from celery import Celery

import events_celery
from events_celery import CeleryEventEmitter

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE.parent / "docs" / "guides" / "images" / "handled-by-outcome.png"


def by_outcome(port: int) -> dict[str, float]:
    """`events_handled_total` summed by outcome, from the worker's `/metrics`."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    totals: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "events_handled_total":
                totals[sample.labels["outcome"]] += sample.value
    return totals


def main() -> int:
    """Run the workload, scrape, plot."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rate", type=float, default=40.0, help="emissions per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from observability import Case, free_port, start_worker, stop_worker
    from observability_worker import COUNTER_URL, FLAKY, Observed

    tag = uuid.uuid4().hex[:8]
    case = Case("on", True, f"bench.picture.{tag}", f"bench:picture:{tag}", free_port())
    assert case.metrics_port is not None
    logs = Path(f"/tmp/bench-picture-{tag}.log")  # noqa: S108 (a log for the curious)
    app = Celery("bench-picture", broker=args.broker_url)
    app.conf.update(events_default_queue=case.queue, events_tracing=False)
    events_celery.install(app)
    emitter = CeleryEventEmitter(app, linker=Observed)
    samples: list[tuple[float, dict[str, float]]] = []
    try:
        start_worker(case, args.broker_url, 2, logs)
        started = time.monotonic()
        next_scrape = started
        sent = 0
        while (now := time.monotonic()) < started + args.seconds + 5:
            if now < started + args.seconds and sent < (now - started) * args.rate:
                emitter.emit(FLAKY, sent)
                sent += 1
                continue
            if now >= next_scrape:
                samples.append((now - started, by_outcome(case.metrics_port)))
                next_scrape += 0.5
            time.sleep(0.005)
    finally:
        stop_worker(case)
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(case.queue)
        app.close()
        redis.Redis.from_url(COUNTER_URL).delete(case.counter)
    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=110)
    colours = {"success": "tab:green", "retry": "tab:orange", "failure": "tab:red"}
    for outcome, colour in colours.items():
        times, rates = [], []
        for (t0, before), (t1, after) in itertools.pairwise(samples):
            times.append(t1)
            rates.append((after.get(outcome, 0.0) - before.get(outcome, 0.0)) / (t1 - t0))
        axes.plot(times, rates, label=outcome, color=colour)
    axes.set_xlabel("seconds")
    axes.set_ylabel("handler runs / s")
    axes.set_title("rate(events_handled_total) by outcome, scraped from a prefork worker")
    axes.legend(loc="upper right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output)
    final = samples[-1][1]
    counted = ", ".join(f"{outcome} {count:.0f}" for outcome, count in sorted(final.items()))
    print(f"emitted {sent}; /metrics: {counted}")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(import_module(Path(__file__).stem).main())
