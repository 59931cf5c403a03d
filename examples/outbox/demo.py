"""Run the outbox example end to end: a worker, a relay, orders placed in transactions.

    python examples/outbox/demo.py [COUNT]

Needs PostgreSQL (`EVENTS_OUTBOX_DB`, default postgres@127.0.0.1:5432) and a broker
(`EVENTS_BROKER_URL`, default Redis on 127.0.0.1:6379). Tables and the queue are unique to the
run and dropped at the end; the worker and the relay are stopped by their process ids.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process in the example's folder, in its own process group, logging to `log`."""
    return subprocess.Popen(
        command, cwd=HERE, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM by pid, then SIGKILL of the group if it hangs; return the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def main() -> int:
    """Run the demo; the exit status is 0 when every committed order got one receipt."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    run = os.urandom(4).hex()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("SHOP_PREFIX", f"shop_{run}")
    env.setdefault("EVENTS_DEFAULT_QUEUE", f"shop-events-{run}")
    os.environ.update(env)
    sys.path.insert(0, str(HERE))
    import main as shop_main
    from shop import DATABASE_URL, create_tables, drop_tables, engine, receipts
    from sqlalchemy import func, select

    create_tables()
    logs = Path(env.get("SHOP_LOGS") or tempfile.gettempdir()) / f"shop-{run}"
    logs.mkdir(parents=True, exist_ok=True)
    worker = start(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-l", "INFO", "-c", "2",
         "-Q", env["EVENTS_DEFAULT_QUEUE"], "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        env, logs / "worker.log",
    )  # fmt: skip
    relay = start(
        [sys.executable, "-m", "events_contrib.outboxcli", "relay", "-A", "worker",
         "--db", DATABASE_URL, "--table", f"{env['SHOP_PREFIX']}_outbox"],
        env, logs / "relay.log",
    )  # fmt: skip
    try:
        shop_main.main(count)
        deadline = time.monotonic() + 60
        written = 0
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                query = select(func.count()).select_from(receipts)
                written = connection.execute(query).scalar_one()
            if written >= count:
                break
            time.sleep(0.2)
        print(f"orders committed {count}, receipts written {written}")
        status = subprocess.run(
            [sys.executable, "-m", "events_contrib.outboxcli", "status", "-A", "worker",
             "--db", DATABASE_URL, "--table", f"{env['SHOP_PREFIX']}_outbox"],
            cwd=HERE, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        print(status.stdout.strip())
        return 0 if written == count else 1
    finally:
        relayed = stop(relay)
        stop(worker)
        print(f"relay stopped with status {relayed}")
        drop_tables()
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
