"""Reading the dead-letter queue hides nothing, reads only the page, and readers agree.

The read-only tests share one queue of 10,000 letters per broker, filled once with
`DeadLetterQueue.add`; none of them changes it, which is what they check.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from celery import Celery
from kombu import Queue

from events_celery import CeleryEventEmitter, Envelope
from events_celery.reasons import Reason
from events_celery.signing import Keyring
from events_contrib import DeadLetterQueue, HandlerFailure
from events_contrib.deadletter import new_dead_letter
from events_contrib.errors import DeadLetterQueueBusyError
from events_contrib.letterstore import open_shelf
from tests.integration.conftest import require
from tests.integration.support import (
    BROKERS,
    ROOT,
    Recorder,
    WorkerProcess,
    base_conf,
    capture_envelope,
    delete_dead_letter_queue,
    make_app,
    worker_env,
)

pytestmark = pytest.mark.integration

APP = "tests.integration.worker_app"
LETTERS = 10_000


@dataclass
class Filled:
    """A dead-letter queue holding `LETTERS` letters, oldest first in `ids`."""

    broker: str
    url: str
    conf: dict[str, Any]
    app: Celery
    ids: list[str]

    @property
    def name(self) -> str:
        return f"{self.conf['events_default_queue']}.dead_letter"

    def command(self, *args: str) -> list[str]:
        executable = shutil.which("events-dlq")
        assert executable, "events-dlq is not installed"
        return [executable, "-A", APP, *args]

    def env(self) -> dict[str, str]:
        return worker_env(self.url, self.conf, f"itest:records:{uuid.uuid4().hex}")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def ready(self) -> int:
        """Letters ready on the queue as the broker counts them, without any reader's lock.

        RabbitMQ may answer before it has handled a requeue, so this can count low; the test
        uses it only to see that a reader holds letters.
        """
        with self.app.connection_for_read() as connection:
            bound = Queue(self.name).bind(connection.default_channel)
            _, count, _ = bound.queue_declare(passive=True)
            return int(count)


@pytest.fixture(scope="module", params=sorted(BROKERS))
def filled(request: pytest.FixtureRequest) -> Iterator[Filled]:
    require(BROKERS[request.param], request.param)
    queue = f"itest-{uuid.uuid4().hex[:12]}"
    conf = base_conf(queue, events_dead_letter=True)
    app = make_app(BROKERS[request.param], conf)
    letters = DeadLetterQueue(app)
    failure = HandlerFailure("tests.integration.handlers:doomed", "failed", "RuntimeError", "", "")
    ids = []
    for number in range(LETTERS):
        letter = new_dead_letter(
            emission_id=uuid.uuid4().hex,
            event=f"itest.bulk.{number}",
            reason=Reason.FAILED,
            queue=queue,
            attempts=3,
            first_failure=None,
            failures=(failure,),
        )
        letters.add(letter)
        ids.append(letter.id)
    yield Filled(request.param, BROKERS[request.param], conf, app, ids)
    delete_dead_letter_queue(app)


def listed_ids(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines()[1:-1]]


def test_killing_a_list_halfway_hides_no_letter_from_the_next_list(filled: Filled) -> None:
    reader = subprocess.Popen(
        filled.command("list", "--limit", "5000"),
        cwd=ROOT,
        env=filled.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert reader.stdout is not None
    lowest = LETTERS
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and reader.poll() is None:
            lowest = min(lowest, filled.ready())
            if lowest < LETTERS:
                break  # RabbitMQ: the reader holds letters unacknowledged right now
            if select.select([reader.stdout], [], [], 0.005)[0]:
                reader.stdout.readline()
                break  # it has read its page and is printing; the pipe will stall it
    finally:
        os.killpg(reader.pid, signal.SIGKILL)
        reader.wait(timeout=30)
        reader.stdout.close()

    assert reader.returncode == -signal.SIGKILL, "the reader must die before it finishes"
    if filled.broker == "redis":
        assert lowest == LETTERS, "a Redis reader never takes a letter off the list"
    else:
        assert lowest < LETTERS, "the reader was meant to be killed while it held letters"
    right_away = DeadLetterQueue(filled.app).page()
    assert right_away.total == LETTERS
    assert [letter.id for letter in right_away.letters] == filled.ids
    after = filled.run("list", "--limit", str(LETTERS))
    assert after.returncode == 0, after.stderr
    summary = f"{LETTERS} of {LETTERS} dead letter(s) in {filled.name}"
    assert after.stdout.splitlines()[-1] == summary
    assert listed_ids(after.stdout) == filled.ids


def test_two_concurrent_lists_agree(filled: Filled) -> None:
    readers = [
        subprocess.Popen(
            filled.command("list", "--limit", "3000"),
            cwd=ROOT,
            env=filled.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [reader.communicate(timeout=120) for reader in readers]

    assert [reader.returncode for reader in readers] == [0, 0], outputs
    first, second = (stdout for stdout, _ in outputs)
    assert first == second
    assert first.splitlines()[-1] == f"3000 of {LETTERS} dead letter(s) in {filled.name}"
    assert listed_ids(first) == filled.ids[:3000]


def test_a_page_of_ten_reads_ten_letters_of_ten_thousand(filled: Filled) -> None:
    letters = DeadLetterQueue(filled.app)

    page = letters.page(10)

    assert [letter.id for letter in page.letters] == filled.ids[:10]
    assert page.total == LETTERS
    assert letters.letters_read == 10
    assert letters.count() == LETTERS
    assert letters.letters_read == 10, "counting reads no letter"

    started = time.monotonic()
    listed = filled.run("list", "--limit", "10")
    elapsed = time.monotonic() - started
    assert listed.returncode == 0, listed.stderr
    assert listed_ids(listed.stdout) == filled.ids[:10]
    assert listed.stdout.splitlines()[-1] == f"10 of {LETTERS} dead letter(s) in {filled.name}"
    print(f"events-dlq list --limit 10 of {LETTERS} on {filled.broker}: {elapsed:.2f} s")


def test_reading_a_letter_by_id_leaves_the_queue_as_it_was(filled: Filled) -> None:
    letters = DeadLetterQueue(filled.app)

    assert letters.get(filled.ids[7_777]).id == filled.ids[7_777]
    assert letters.count() == LETTERS
    assert [letter.id for letter in letters.list(3)] == filled.ids[:3]


def test_a_reader_waits_for_another_on_rabbitmq_and_never_on_redis(filled: Filled) -> None:
    holding = DeadLetterQueue(filled.app)
    impatient = DeadLetterQueue(filled.app, lock_timeout=0.5)

    with open_shelf(filled.app, holding._queue, holding.lock_timeout) as shelf:
        assert len(shelf.page(100)[0]) == 100
        if filled.broker == "amqp":
            with pytest.raises(DeadLetterQueueBusyError, match="busy"):
                impatient.count()
        else:
            assert impatient.count() == LETTERS

    assert impatient.count() == LETTERS


@pytest.fixture
def signed_queue(broker_url: str, queue: str) -> Iterator[dict[str, Any]]:
    """Settings with the right key; the test's dead-letter queue is deleted afterwards."""
    conf = base_conf(queue, events_dead_letter=True, events_signing_key="the-right-key")
    yield conf
    delete_dead_letter_queue(make_app(broker_url, conf))


def test_a_letter_refused_by_a_worker_with_the_wrong_key_is_replayed_with_the_right_key(
    broker_url: str,
    queue: str,
    recorder: Recorder,
    worker_factory: Callable[..., WorkerProcess],
    signed_queue: dict[str, Any],
) -> None:
    wrong = {**signed_queue, "events_signing_key": "a-wrong-key"}
    misconfigured = worker_factory(broker_url, [queue], wrong)
    producer = make_app(broker_url, signed_queue)
    token = uuid.uuid4().hex
    CeleryEventEmitter(producer).emit("itest.text", token, n=1)
    misconfigured.wait_log("refused (signature) and dead-lettered")
    misconfigured.stop()

    letters = DeadLetterQueue(producer)
    (refused,) = letters.list()
    assert refused.reason == "signature"
    forged = forged_letter(producer, queue)
    letters.add(forged)

    replayed = run_cli(broker_url, signed_queue, recorder, "replay", "--all")

    assert replayed.returncode == 0, replayed.stderr
    lines = replayed.stdout.splitlines()
    assert lines[0] == f"replayed {refused.id}"
    assert lines[1].startswith(f"skipped {forged.id} (its signature does not verify")
    assert [letter.id for letter in letters.list()] == [forged.id], "the forged one stays"

    worker_factory(broker_url, [queue], signed_queue)
    records = recorder.wait_for(lambda found: len(found) >= 2)
    assert sorted(record["handler"] for record in records) == ["on_text", "on_text_async"]
    assert {record["text"] for record in records} == {token}
    assert all(record["text"] != "forged" for record in recorder.settle(1.0))


def forged_letter(app: Celery, queue: str) -> Any:
    """A `signature` letter whose envelope was signed with a key nobody here holds."""
    sent = capture_envelope(app, "itest.text", "forged", n=1)
    unsigned = Envelope(sent.id, sent.event, sent.codec, sent.body)
    envelope = unsigned.signed_with(Keyring.from_setting("an-attacker-key"))
    return new_dead_letter(
        emission_id=sent.id,
        event=sent.event,
        reason=Reason.SIGNATURE,
        queue=queue,
        attempts=1,
        first_failure=None,
        envelope=envelope.to_message(),
        detail="the envelope is signed with unknown key id",
    )


def run_cli(
    broker_url: str, conf: dict[str, Any], recorder: Recorder, *args: str
) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("events-dlq")
    assert executable, "events-dlq is not installed"
    return subprocess.run(
        [executable, "-A", APP, *args],
        cwd=ROOT,
        env=worker_env(broker_url, conf, recorder.key),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
