"""What an operator finds in a real worker's log after a handler raised."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from events_celery import CeleryEventEmitter
from tests.integration.support import Recorder, WorkerProcess, base_conf, make_app

CARD = "tok-card-5555-4444-secret"


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_the_worker_log_shows_the_handler_error_its_traceback_and_ids_but_no_arguments(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)

    emission = CeleryEventEmitter(make_app(broker_url, conf)).emit("itest.invalid", 3, card=CARD)

    assert emission is not None
    log = worker.wait_log("raised unexpected")
    assert "ValueError: order 3 is invalid" in log
    assert (
        f"handler tests.integration.handlers:reject_order failed for emission {emission.id} "
        f"of itest.invalid (attempt 1): ValueError: order 3 is invalid"
    ) in log
    assert "Traceback (most recent call last)" in log
    assert 'handlers.py", line' in log
    assert "in reject_order" in log
    assert "The above exception was the direct cause of the following exception" in log
    assert CARD not in log
