"""Emit the tutorial's events and wait for the workers to handle them.

python main.py          # 300 orders and sign-ups
python main.py 1000
"""

from __future__ import annotations

import sys
import time

from celery.result import AsyncResult
from event_handlers import ExpressOrderPlaced, OrderPlaced
from worker import app

from events_celery import CeleryEventEmitter


def emit_events(count: int) -> list[str]:
    """Emit `count` events of the tutorial's three kinds; return their emission ids."""
    emitter = CeleryEventEmitter(app)
    ids = []
    for number in range(count):
        if number % 3 == 0:
            emission = emitter.emit(OrderPlaced(order_id=number, total_cents=1999 + number))
        elif number % 3 == 1:
            emission = emitter.emit(ExpressOrderPlaced(order_id=number, total_cents=4999))
        else:
            emission = emitter.emit("UserSignedUp", f"user{number}@example.com", plan="pro")
        assert emission is not None, "every event here has handlers"
        ids.append(emission.id)
    return ids


def wait_for(ids: list[str], timeout: float = 120.0) -> tuple[int, int]:
    """Wait until every emission ran on a worker; return (handled, failed)."""
    deadline = time.monotonic() + timeout
    pending = {emission_id: AsyncResult(emission_id, app=app) for emission_id in ids}
    handled = failed = 0
    while pending and time.monotonic() < deadline:
        for emission_id, result in list(pending.items()):
            if result.ready():
                if result.successful():
                    handled += 1
                else:
                    failed += 1
                del pending[emission_id]
        if pending:
            time.sleep(0.05)
    return handled, failed


def main(count: int = 300) -> int:
    """Emit, wait and print a summary; the exit status says whether all were handled."""
    started = time.perf_counter()
    ids = emit_events(count)
    emitted_in = time.perf_counter() - started
    handled, failed = wait_for(ids)
    elapsed = time.perf_counter() - started
    print(
        f"emitted {len(ids)} events in {emitted_in:.2f} s, handled {handled}, failed {failed}, "
        f"lost {len(ids) - handled - failed}: {handled / elapsed:.0f} events/s end to end"
    )
    return 0 if handled == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
