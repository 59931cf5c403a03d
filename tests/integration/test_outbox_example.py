"""The outbox example runs end to end on PostgreSQL and Redis."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.conftest import require
from tests.integration.support import BROKERS, ROOT

DEMO = ROOT / "examples" / "outbox" / "demo.py"
DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

pytestmark = pytest.mark.integration


def test_the_outbox_demo_writes_one_receipt_per_committed_order(tmp_path: object) -> None:
    require(DATABASE_URL, "postgresql")
    require(BROKERS["redis"], "redis")
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVENTS_")}
    env.update(
        EVENTS_BROKER_URL=BROKERS["redis"], EVENTS_OUTBOX_DB=DATABASE_URL, SHOP_LOGS=str(tmp_path)
    )

    result = subprocess.run(
        [sys.executable, str(DEMO), "25"], env=env, capture_output=True, text=True, timeout=180
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "one order rolled back" in result.stdout
    assert "orders committed 25, receipts written 25" in result.stdout
    assert "pending: 0" in result.stdout
    assert "relay stopped with status 0" in result.stdout
