"""Stopping the worker subprocesses the benchmarks start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_by_pid(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """Stop a worker started in its own session: SIGTERM (warm shutdown), then, after `grace`
    seconds or once it exited, SIGKILL of its whole process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
