"""Run the tutorial end to end: start a Celery worker, emit events, print what happened.

    python examples/tutorial/demo.py [COUNT]

Without `EVENTS_BROKER_URL` it needs no server (an embedded broker in a temporary folder);
with `EVENTS_BROKER_URL=redis://...` or `amqp://...` it runs on that broker. The worker is
stopped by its process id on exit and on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
HANDLER_LINES = ("receipt sent", "courier booked", "welcome mail")
SHOWN_LINES = 6
QUEUE_PREFIX = "events-demo-"


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `celery -A worker worker` in the tutorial folder, in its own process group."""
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "-l", "INFO"]
    command += ["-Q", env["EVENTS_DEFAULT_QUEUE"], "-c", "2", "--without-heartbeat"]
    command += ["--without-gossip", "--without-mingle"]
    return subprocess.Popen(
        command,
        cwd=HERE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def relay_output(worker: subprocess.Popen[str], log: list[str]) -> None:
    """Print the first few lines that handlers printed on the worker, and any error."""
    shown = 0
    assert worker.stdout is not None
    for line in worker.stdout:
        log.append(line)
        text = line.rstrip()
        if any(marker in text for marker in HANDLER_LINES):
            shown += 1
            if shown <= SHOWN_LINES:
                print("worker | " + text.split("] ", 1)[-1])
            elif shown == SHOWN_LINES + 1:
                print("worker | ...")
        elif "ERROR" in text or "CRITICAL" in text:
            print("worker | " + text)


def stop_worker(worker: subprocess.Popen[str]) -> None:
    """Stop the worker by its pid: a warm shutdown, then SIGKILL of its group if it hangs."""
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def main() -> int:
    """Run the demo; the exit status is 0 when every event was handled."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    env = dict(os.environ)
    env.setdefault("EVENTS_DEFAULT_QUEUE", QUEUE_PREFIX + os.urandom(4).hex())
    env["PYTHONUNBUFFERED"] = "1"
    with tempfile.TemporaryDirectory(prefix="events-demo-") as folder:
        if not env.get("EVENTS_BROKER_URL"):
            env["EVENTS_DEMO_FOLDER"] = folder
            print(f"broker: embedded (files in {folder}); set EVENTS_BROKER_URL for a real one")
        else:
            print(f"broker: {env['EVENTS_BROKER_URL']}")
        os.environ.update(env)
        sys.path.insert(0, str(HERE))
        worker = start_worker(env)
        log: list[str] = []
        relay = threading.Thread(target=relay_output, args=(worker, log), daemon=True)
        relay.start()
        try:
            import main as tutorial

            return tutorial.main(count)
        except KeyboardInterrupt:
            print("interrupted; stopping the worker")
            return 130
        finally:
            stop_worker(worker)
            relay.join(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
