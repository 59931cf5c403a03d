"""Where the time of one emission goes: our `emit` and task against raw Celery, profiled.

Run: `hatch run bench:profile` (or `python benchmarks/profile_single.py`) with Redis on
127.0.0.1:6379. Options: `--broker-url`, `--number` (messages per side, default 3000),
`--payload-bytes` (a string argument of that size in every message, default none) and
`--top` (how many of our functions to list, default 12).

Producer: `number` raw `task.apply_async(args=(seq, key, pad))` and `number`
`emit("bench.profile", seq, key, pad)`, each timed (microseconds per call, best of three
rounds) and then profiled. Worker: the messages the profiled rounds published are drained by
a `celery worker -P solo` per side, started after they were queued, whose main thread (which
fetches, checks and runs every message under the solo pool) is profiled in CPU time. Then,
unprofiled, a `celery worker -c 2` (prefork) per side, idle until `number` messages are
published to it, gives the CPU time each process spent per message (from /proc). Each
profile's own time is summed by where the code lives (ours, Celery, kombu, redis-py, the
standard library, built-ins by kind) and printed per message, raw against ours; then our
functions costing most. cProfile inflates every figure, roughly alike on both sides: read
the differences and the shares, and the unprofiled producer timings for absolute cost.

The queues and counters are unique to the run and removed at the end; the workers are stopped
by pid. The exit status is 0 whatever the figures, 2 when Redis is unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import redis
from processes import stop_by_pid

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
OURS = ("/events_core/", "/events_celery/", "/events_contrib/")
LIBRARIES = ("celery", "kombu", "redis", "billiard", "vine", "amqp")


def where(filename: str, function: str) -> str:
    """The group a profiled function's own time is counted in."""
    if any(part in filename for part in OURS):
        return "ours (events-*)"
    for library in LIBRARIES:
        if f"/site-packages/{library}/" in filename:
            return library if library != "redis" else "redis-py"
    if filename == "~":
        if any(word in function for word in ("socket", "select", "poll", "epoll", "recv")):
            return "built-in: socket and poll"
        if any(word in function for word in ("_json", "json", "loads", "dumps", "encode")):
            return "built-in: JSON and text"
        if any(word in function for word in ("hmac", "hash", "sha", "digest", "compare")):
            return "built-in: hashing"
        return "built-in: other"
    if "/json/" in filename:
        return "stdlib: json"
    return "stdlib: other" if "/lib/python" in filename else "other"


def per_group(stats: pstats.Stats, number: int) -> dict[str, float]:
    """Microseconds of own time per message, by group."""
    groups: dict[str, float] = defaultdict(float)
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        groups[where(filename, function)] += row[2] / number * 1e6
    return groups


def ours_top(stats: pstats.Stats, number: int, top: int) -> list[tuple[float, float, str]]:
    """Our functions by own time: (own us, cumulative us, name) per message."""
    rows = []
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if any(part in filename for part in OURS):
            module = filename.rsplit("/src/", 1)[-1].removesuffix(".py").replace("/", ".")
            rows.append((row[2] / number * 1e6, row[3] / number * 1e6, f"{module}:{function}"))
    return sorted(rows, reverse=True)[:top]


def print_groups(title: str, raw: dict[str, float], ours: dict[str, float]) -> None:
    print(f"\n{title} (profiled CPU, microseconds per message)")
    print(f"{'where':28} {'raw':>8} {'ours':>8} {'ours-raw':>9}")
    for group in sorted(set(raw) | set(ours), key=lambda name: -ours.get(name, 0.0)):
        a, b = raw.get(group, 0.0), ours.get(group, 0.0)
        if max(a, b) >= 0.5:
            print(f"{group:28} {a:8.1f} {b:8.1f} {b - a:+9.1f}")
    total_raw, total_ours = sum(raw.values()), sum(ours.values())
    print(f"{'total':28} {total_raw:8.1f} {total_ours:8.1f} {total_ours - total_raw:+9.1f}")


def timed(loop: Callable[[int], None], number: int) -> float:
    """Best of three rounds of `loop(number)`, in microseconds per call."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        loop(number)
        best = min(best, time.perf_counter() - started)
    return best / number * 1e6


def profiled(loop: Callable[[int], None], number: int) -> pstats.Stats:
    """`loop(number)` under cProfile, in CPU time."""
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    loop(number)
    profile.disable()
    return pstats.Stats(profile)


@contextlib.contextmanager
def running_worker(
    url: str, queues: dict[str, str], side: str, pool: str, log: Path, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker consuming `side`'s queue, stopped by pid on the way out."""
    env = dict(os.environ)
    env.update(
        BENCH_PROFILE_BROKER_URL=url,
        BENCH_PROFILE_QUEUES=f"{queues['raw']},{queues['ours']}",
        PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")]),
        **extra,
    )
    command = [
        sys.executable, "-m", "celery", "-A", "profile_worker", "worker", "-l", "WARNING",
        "-Q", queues[side], "-P", pool, "-c", "2",
        "-n", f"bench-profile-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, cwd=HERE, env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        stop_by_pid(process)


def wait_for(key: str, number: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the handlers have counted `number` runs in `key`."""
    from profile_worker import COUNTER_URL

    counter = redis.Redis.from_url(COUNTER_URL)
    deadline = time.monotonic() + 180
    while int(counter.get(key) or 0) < number:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not finish:\n{log.read_text()}")
        time.sleep(0.02)


def drain(
    url: str, queues: dict[str, str], side: str, key: str, number: int, out: Path, pool: str
) -> None:
    """Start a profiled worker on `side`'s queue, wait for `number` runs, stop it."""
    log = out.with_suffix(".log")
    with running_worker(url, queues, side, pool, log, BENCH_PROFILE_OUT=str(out)) as process:
        wait_for(key, number, process, log)
    if not out.exists():
        raise RuntimeError(f"the {side} worker wrote no profile:\n{log.read_text()}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_message(
    url: str,
    queues: dict[str, str],
    side: str,
    loop: Callable[[int, str], None],
    number: int,
    folder: Path,
) -> dict[str, float]:
    """Unprofiled CPU microseconds per message of the producer, a prefork worker's main
    process and its two pool processes, publishing to an idle worker and draining."""
    key = f"bench:profile:cpu:{side}:{uuid.uuid4().hex[:8]}"
    ready = folder / f"{side}.ready"
    log = folder / f"{side}.cpu.log"
    with running_worker(
        url, queues, side, "prefork", log, BENCH_PROFILE_READY=str(ready)
    ) as process:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{log.read_text()}")
            time.sleep(0.05)
        time.sleep(0.5)
        main_pid = process.pid
        children = [
            int(pid)
            for pid in Path(f"/proc/{main_pid}/task/{main_pid}/children").read_text().split()
        ]
        before = [cpu_seconds(pid) for pid in (main_pid, *children)]
        started = time.process_time()
        loop(number, key)
        producer = time.process_time() - started
        wait_for(key, number, process, log)
        after = [cpu_seconds(pid) for pid in (main_pid, *children)]
    from profile_worker import COUNTER_URL

    redis.Redis.from_url(COUNTER_URL).delete(key)
    scale = 1e6 / number
    return {
        "producer": producer * scale,
        "worker main process": (after[0] - before[0]) * scale,
        "pool processes": sum(a - b for a, b in zip(after[1:], before[1:], strict=True)) * scale,
    }


def main() -> int:
    """Time and profile both producers, drain both queues profiled, print the comparison."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--number", type=int, default=3000, help="messages per side")
    parser.add_argument("--payload-bytes", type=int, default=0, help="size of a string argument")
    parser.add_argument("--top", type=int, default=12, help="our functions to list")
    parser.add_argument(
        "--pool",
        choices=("solo", "prefork"),
        default="solo",
        help="the worker's pool; prefork (2 processes) profiles only its main process",
    )
    args = parser.parse_args()
    from profile_worker import COUNTER_URL, EVENT, RAW_TASK, Profiled, make_app

    from events_celery import CeleryEventEmitter

    counter = redis.Redis.from_url(COUNTER_URL)
    try:
        counter.ping()
    except redis.RedisError as exc:
        print(f"Redis is unreachable: {exc}", file=sys.stderr)
        return 2
    tag = uuid.uuid4().hex[:8]
    queues = {"raw": f"bench.profile.raw.{tag}", "ours": f"bench.profile.ours.{tag}"}
    keys = {side: f"bench:profile:{side}:{tag}" for side in queues}
    pad = "x" * args.payload_bytes
    app = make_app(args.broker_url, queues)
    task = app.tasks[RAW_TASK]
    emitter = CeleryEventEmitter(app, linker=Profiled)

    def raw(number: int, key: str = "bench:profile:warm") -> None:
        apply_async, queue = task.apply_async, queues["raw"]
        for seq in range(number):
            apply_async(args=(seq, key, pad), queue=queue)

    def ours(number: int, key: str = "bench:profile:warm") -> None:
        emit = emitter.emit
        for seq in range(number):
            emit(EVENT, seq, key, pad)

    folder = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    loops: dict[str, Any] = {"raw": raw, "ours": ours}
    producer: dict[str, pstats.Stats] = {}
    worker: dict[str, pstats.Stats] = {}
    try:
        micros = {side: timed(loop, args.number) for side, loop in loops.items()}
        with app.connection_for_write() as connection:
            for queue in queues.values():
                connection.default_channel.queue_purge(queue)
        for side, loop in loops.items():
            producer[side] = profiled(functools.partial(loop, key=keys[side]), args.number)
        for side in queues:
            out = folder / f"{side}.prof"
            drain(args.broker_url, queues, side, keys[side], args.number, out, args.pool)
            worker[side] = pstats.Stats(str(out))
        cpu: dict[str, list[dict[str, float]]] = {"raw": [], "ours": []}
        for _ in range(2):
            for side, loop in loops.items():
                cpu[side].append(
                    cpu_per_message(args.broker_url, queues, side, loop, args.number, folder)
                )
    finally:
        with app.connection_for_write() as connection:
            for queue in queues.values():
                connection.default_channel.queue_delete(queue)
        app.close()
        for key in keys.values():
            counter.delete(key)
    print(
        f"\none emission on {args.broker_url}, {args.number} per side, "
        f"payload {args.payload_bytes} bytes"
    )
    print(
        f"producer, unprofiled: apply_async {micros['raw']:.0f} us, emit {micros['ours']:.0f} us "
        f"per call ({micros['raw'] / micros['ours']:.2f}x raw's rate)"
    )
    print("\nunprofiled CPU per message, prefork worker -c 2 (microseconds, best of 2)")
    print(f"{'process':28} {'raw':>8} {'ours':>8} {'ours-raw':>9}")
    for name in cpu["raw"][0]:
        a = min(run[name] for run in cpu["raw"])
        b = min(run[name] for run in cpu["ours"])
        print(f"{name:28} {a:8.0f} {b:8.0f} {b - a:+9.0f}")
    print_groups("producer", per_group(producer["raw"], args.number),
                 per_group(producer["ours"], args.number))  # fmt: skip
    pool = "solo pool" if args.pool == "solo" else "prefork main process"
    print_groups(f"worker, {pool}", per_group(worker["raw"], args.number),
                 per_group(worker["ours"], args.number))  # fmt: skip
    for title, stats in (("producer", producer["ours"]), ("worker", worker["ours"])):
        print(f"\nour functions costing most, {title} (own us, cumulative us, per message)")
        for own, cumulative, name in ours_top(stats, args.number, args.top):
            print(f"{own:7.1f} {cumulative:8.1f}  {name}")
    print(f"\n(profiles and worker logs in {folder})")
    return 0


if __name__ == "__main__":
    # Handlers in `__main__` cannot be named on the wire: import the worker module by name.
    sys.path.insert(0, str(HERE))
    sys.exit(import_module(Path(__file__).stem).main())
