"""The README's demo runs the tutorial on the embedded broker and on Redis."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.support import BROKERS, ROOT, reachable

DEMO = ROOT / "examples" / "tutorial" / "demo.py"


@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_the_demo_handles_every_event_and_stops_its_worker(broker: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVENTS_")}
    if broker == "redis":
        if not reachable(BROKERS["redis"]):
            if os.environ.get("CI"):
                pytest.fail("redis is not reachable")
            pytest.skip("redis is not reachable")
        env["EVENTS_BROKER_URL"] = BROKERS["redis"]

    result = subprocess.run(
        [sys.executable, str(DEMO), "60"], env=env, capture_output=True, text=True, timeout=180
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "worker | receipt sent for order" in result.stdout
    assert "handled 60, failed 0, lost 0" in result.stdout
    pids = subprocess.run(
        ["pgrep", "-f", "celery -A worker worker"], capture_output=True, text=True
    ).stdout.split()
    assert not [pid for pid in pids if _cwd(pid) == str(DEMO.parent)]


def _cwd(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""
