"""The `events-dlq` command line, run through its installed entry point."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest

from events_celery import CeleryEventEmitter
from tests.integration.support import (
    ROOT,
    UNREACHABLE,
    Recorder,
    WorkerProcess,
    base_conf,
    delete_dead_letter_queue,
    make_app,
    worker_env,
)
from tests.integration.test_retry_and_dead_letters import RETRY_ENV

APP = "tests.integration.worker_app"


@pytest.fixture
def dlq(
    broker_url: str, queue: str, recorder: Recorder
) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """Run `events-dlq -A tests.integration.worker_app ...` configured like the test's worker."""
    executable = shutil.which("events-dlq")
    assert executable, "events-dlq is not installed"
    conf = base_conf(queue, events_dead_letter=True)

    def run(*args: str, broker: str = broker_url) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [executable, "-A", APP, *args],
            cwd=ROOT,
            env=worker_env(broker, conf, recorder.key),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    yield run
    delete_dead_letter_queue(make_app(broker_url, conf))


def test_the_cli_lists_shows_replays_and_purges_with_reliable_exit_codes(
    broker: str,
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    dlq: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    conf = base_conf(queue, events_dead_letter=True)
    worker = worker_factory(broker_url, [queue], conf, env=RETRY_ENV)
    emitter = CeleryEventEmitter(make_app(broker_url, conf))
    for token in ("one", "two"):
        emitter.emit("itest.doomed", token)
    worker.wait_log("dead-lettered", count=2)

    listed = dlq("list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "EVENT", "REASON", "ATTEMPTS", "LAST", "FAILURE", "HANDLERS"]
    assert len([line for line in lines if "itest.doomed" in line]) == 2
    assert lines[-1] == f"2 of 2 dead letter(s) in {queue}.dead_letter"
    assert dlq("list").stdout == listed.stdout, "listing must not consume"
    first_id = lines[1].split()[0]

    shown = dlq("show", first_id)
    assert shown.returncode == 0
    assert f"id:            {first_id}" in shown.stdout
    assert "handler tests.integration.handlers:doomed: builtins.RuntimeError" in shown.stdout
    assert "Traceback" in shown.stdout
    missing = dlq("show", uuid.uuid4().hex)
    assert missing.returncode == 1
    assert "no dead letter" in missing.stderr

    recorder.client.set(f"{recorder.key}:fixed", 1)
    replayed = dlq("replay", first_id)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == f"replayed {first_id}"
    recorder.wait_for(lambda records: any(item.get("fixed") for item in records))

    refused = dlq("purge")
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    purged = dlq("purge", "--yes")
    assert purged.returncode == 0
    assert purged.stdout.strip() == f"deleted 1 dead letter(s) from {queue}.dead_letter"
    assert dlq("list").stdout.splitlines()[-1] == f"0 of 0 dead letter(s) in {queue}.dead_letter"

    assert dlq("list", broker=UNREACHABLE[broker]).returncode == 3
    bad_app = subprocess.run(
        ["events-dlq", "-A", "no_such_module_here", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_app.returncode == 2
    assert "no_such_module_here" in bad_app.stderr
