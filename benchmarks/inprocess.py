"""Nanoseconds per emit: our in-process emitters against other libraries, in the same run.

Run: `hatch run bench:inprocess` (or `python benchmarks/inprocess.py` with pyee, blinker and
pyventus==0.6.0 installed). The first table has one sync handler and every figure as a ratio
to blinker's `Signal.send`; the second has 1, 10 and 100 sync handlers per event (`--handlers`)
for ours outside a loop, pyee and blinker, as ratios to pyee.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from events_core import AsyncIOEventEmitter, EventLinker, ExecutorEventEmitter


class Bench(EventLinker):
    """Linker used only by this benchmark."""


counter = 0


def handler(value: int) -> None:
    """The one sync handler every library runs."""
    global counter
    counter += value


def best_ns(run: Callable[[int], None], number: int, repeat: int) -> float:
    """Best time per call, in ns, over `repeat` runs of `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter_ns()
        run(number)
        best = min(best, (time.perf_counter_ns() - started) / number)
    return best


def plain_call(number: int) -> None:
    for _ in range(number):
        handler(1)


def ours_outside_loop(number: int) -> None:
    emit = AsyncIOEventEmitter(linker=Bench).emit
    for _ in range(number):
        emit("tick", 1)


def ours_inside_loop(number: int) -> None:
    async def main() -> None:
        emitter = AsyncIOEventEmitter(linker=Bench)
        for _ in range(number):
            emitter.emit("tick", 1)
        await emitter.wait()
        await asyncio.sleep(0)

    asyncio.run(main())


def ours_executor(number: int) -> None:
    with ExecutorEventEmitter(linker=Bench, max_workers=1) as emitter:
        for _ in range(number):
            emitter.emit("tick", 1)


def blinker_send(number: int) -> None:
    from blinker import Signal

    signal = Signal()

    def receiver(sender: Any, value: int) -> None:
        handler(value)

    signal.connect(receiver)
    for _ in range(number):
        signal.send(None, value=1)


def pyee_emit(number: int) -> None:
    from pyee import EventEmitter

    emitter = EventEmitter()
    emitter.on("tick", handler)
    for _ in range(number):
        emitter.emit("tick", 1)


def _pyventus() -> Any:
    import pyventus

    if not pyventus.__version__.startswith("0.6"):
        raise RuntimeError(f"pyventus 0.6 is the baseline, found {pyventus.__version__}")
    return pyventus


def pyventus_outside_loop(number: int) -> None:
    pyventus = _pyventus()

    class Linker(pyventus.EventLinker):
        pass

    Linker.subscribe("tick", event_callback=handler)
    emitter = pyventus.AsyncIOEventEmitter(event_linker=Linker)
    for _ in range(number):
        emitter.emit("tick", 1)


def pyventus_inside_loop(number: int) -> None:
    pyventus = _pyventus()

    class Linker(pyventus.EventLinker):
        pass

    Linker.subscribe("tick", event_callback=handler)

    async def main() -> None:
        emitter = pyventus.AsyncIOEventEmitter(event_linker=Linker)
        for _ in range(number):
            emitter.emit("tick", 1)
        others = asyncio.all_tasks() - {asyncio.current_task()}
        await asyncio.gather(*others)

    asyncio.run(main())


CASES: list[tuple[str, Callable[[int], None], int]] = [
    ("plain function call", plain_call, 1),
    ("blinker Signal.send", blinker_send, 1),
    ("pyee EventEmitter.emit", pyee_emit, 1),
    ("ours AsyncIOEventEmitter, no loop", ours_outside_loop, 1),
    ("ours AsyncIOEventEmitter, in a loop", ours_inside_loop, 1),
    ("ours ExecutorEventEmitter (1 thread)", ours_executor, 1),
    ("pyventus 0.6 AsyncIOEventEmitter, no loop", pyventus_outside_loop, 20),
    ("pyventus 0.6 AsyncIOEventEmitter, in a loop", pyventus_inside_loop, 5),
]


def many_handlers(count: int) -> list[Callable[[int], None]]:
    """`count` distinct sync handlers (each library refuses or merges duplicates)."""

    def make() -> Callable[[int], None]:
        def one(value: int) -> None:
            global counter
            counter += value

        return one

    return [make() for _ in range(count)]


def fanout_cases(count: int) -> list[tuple[str, Callable[[int], None]]]:
    """Ours (no loop), pyee and blinker with `count` handlers on one event."""
    from blinker import Signal
    from pyee import EventEmitter

    handlers = many_handlers(count)

    class Fanout(EventLinker):
        pass

    for each in handlers:
        Fanout.on("tick")(each)
    pyee = EventEmitter()
    for each in handlers:
        pyee.on("tick", each)
    signal = Signal()
    receivers = []
    for each in handlers:

        def receiver(sender: Any, value: int, _each: Callable[[int], None] = each) -> None:
            _each(value)

        receivers.append(receiver)  # blinker holds receivers weakly
        signal.connect(receiver)

    def ours(number: int) -> None:
        emit = AsyncIOEventEmitter(linker=Fanout).emit
        for _ in range(number):
            emit("tick", 1)

    def pyee_case(number: int) -> None:
        emit = pyee.emit
        for _ in range(number):
            emit("tick", 1)

    def blinker_case(number: int) -> None:
        send = signal.send
        for _ in range(number):
            send(None, value=1)

    blinker_case.receivers = receivers  # type: ignore[attr-defined]  # keep them alive
    return [("ours, no loop", ours), ("pyee", pyee_case), ("blinker", blinker_case)]


def main() -> None:
    """Measure every case and print ns per emit and the ratio to blinker, then to pyee."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=20_000, help="emits per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (best is kept)")
    parser.add_argument(
        "--handlers", default="1,10,100", help="handler counts of the second table"
    )
    options = parser.parse_args()
    Bench.on("tick")(handler)
    results: dict[str, float] = {}
    for name, run, slowdown in CASES:
        results[name] = best_ns(run, max(options.number // slowdown, 100), options.repeat)
    blinker = results["blinker Signal.send"]
    print(f"{'case':45} {'ns/emit':>10} {'x blinker':>10}")
    for name, ns in results.items():
        print(f"{name:45} {ns:10.0f} {ns / blinker:10.2f}")
    inside = results["ours AsyncIOEventEmitter, in a loop"]
    pyventus_inside = results["pyventus 0.6 AsyncIOEventEmitter, in a loop"]
    print(f"\npyventus 0.6 in a loop / ours in a loop: {pyventus_inside / inside:.1f}x")
    print(f"\n{'handlers':>8} {'case':15} {'ns/emit':>10} {'ns/handler':>11} {'x pyee':>8}")
    for count in (int(text) for text in options.handlers.split(",")):
        cases = fanout_cases(count)
        number = max(options.number // count, 200)
        measured = {name: best_ns(run, number, options.repeat) for name, run in cases}
        for name, ns in measured.items():
            ratio = ns / measured["pyee"]
            print(f"{count:8} {name:15} {ns:10.0f} {ns / count:11.0f} {ratio:8.2f}")


if __name__ == "__main__":
    main()
