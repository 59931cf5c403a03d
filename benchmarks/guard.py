"""Microseconds per message for the worker's main-process guard, against parsing it alone.

Run: `hatch run bench:guard` (or `python benchmarks/guard.py`); no broker is needed. For each
payload size it builds the task message `CeleryEventEmitter.emit` would send (a sealed
envelope in Celery's protocol 2 body, as a kombu `Message`) and times `MessageGuard.check` on
it, against `json.loads` of the same body: the parse any check of the body must do. Figures
are the best of `--repeat` runs, measured in the same run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import uuid
from collections.abc import Callable

from celery import Celery
from kombu.message import Message

import events_celery
from events_celery.body import Body, Meta
from events_celery.bootstrap import runtime_of
from events_celery.consumer import message_guard
from events_celery.guard import MessageGuard


def task_message(app: Celery, payload_bytes: int) -> Message:
    """The kombu message of one emission with a string payload of about `payload_bytes`."""
    runtime = runtime_of(app)
    body = Body(
        kind="name",
        linker="events_core.registry:EventLinker",
        handlers=("bench:handler",),
        timestamp=time.time(),
        headers={},
        meta=Meta(attempt=1, queue="events"),
        args=("x" * payload_bytes,),
        kwargs={},
    )
    envelope = runtime.publisher.seal(uuid.uuid4().hex, "bench.order", body)
    options = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    raw = json.dumps([[envelope.to_message()], {}, options]).encode()
    return Message(
        body=raw,
        headers={"task": "events.execute", "id": envelope.id},
        content_type="application/json",
        content_encoding="utf-8",
        delivery_info={"routing_key": "events", "exchange": "events"},
    )


def best_us(run: Callable[[Message], object], message: Message, number: int, repeat: int) -> float:
    """Best microseconds per call of `run(message)` over `repeat` runs of `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        for _ in range(number):
            run(message)
        best = min(best, (time.perf_counter() - started) / number)
    return best * 1e6


def main() -> None:
    """Print the guard's cost per message next to a bare `json.loads`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="200,10000,1000000")
    options = parser.parse_args()
    app = Celery("bench-guard", broker="memory://", set_as_current=False)
    events_celery.install(app, signing_key="bench-key")
    guard: MessageGuard = message_guard(runtime_of(app))
    print(f"{'payload B':>10} {'msg B':>9} {'json.loads us':>14} {'guard us':>10} {'ratio':>7}")
    for size in (int(item) for item in options.sizes.split(",")):
        message = task_message(app, size)
        number = max(options.number * 200 // max(size, 200), 20)
        parse = best_us(lambda m: json.loads(m.body), message, number, options.repeat)
        check = best_us(guard.check, message, number, options.repeat)
        print(
            f"{size:>10} {len(message.body):>9} {parse:>14.1f} {check:>10.1f} "
            f"{check / parse:>7.2f}"
        )


if __name__ == "__main__":
    main()
