"""`events-dlq` in scripts: JSON lines, filters, a closed pipe and `--version`."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

import events_contrib
from events_contrib import DeadLetterQueue
from events_contrib.deadletter import DeadLetter, new_dead_letter
from tests.integration.support import (
    ROOT,
    base_conf,
    delete_dead_letter_queue,
    make_app,
    worker_env,
)

APP = "tests.integration.worker_app"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def letters(broker_url: str, queue: str) -> Iterator[tuple[DeadLetterQueue, list[DeadLetter]]]:
    """Six letters: two events, two reasons, half of them three hours old."""
    app = make_app(broker_url, base_conf(queue, events_dead_letter=True))
    dead = DeadLetterQueue(app)
    made = []
    old = datetime.now(timezone.utc) - timedelta(hours=3)
    for number, (event, reason) in enumerate(
        [("order.paid", "failed"), ("order.paid", "signature"), ("user.created", "failed")] * 2
    ):
        letter = new_dead_letter(
            emission_id=f"{number:032x}",
            event=event,
            reason=reason,
            queue=queue,
            attempts=1,
            first_failure=None,
        )
        if number < 3:
            letter = dataclasses.replace(letter, first_failure=old, last_failure=old)
        dead.add(letter)
        made.append(letter)
    yield dead, made
    delete_dead_letter_queue(app)


@pytest.fixture
def dlq(broker_url: str, queue: str) -> Run:
    executable = shutil.which("events-dlq")
    assert executable, "events-dlq is not installed"
    env = worker_env(broker_url, base_conf(queue, events_dead_letter=True), "unused")

    def run(*args: str, shell_tail: str = "") -> subprocess.CompletedProcess[str]:
        command = " ".join([executable, "-A", APP, *args])
        return subprocess.run(
            ["bash", "-c", f"set -o pipefail; {command} {shell_tail}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    return run


def ids_in(output: str) -> set[str]:
    return {json.loads(line)["emission_id"] for line in output.splitlines() if line}


def ids_of(made: list[DeadLetter], keep: Callable[[DeadLetter], bool]) -> set[str]:
    return {letter.emission_id for letter in made if keep(letter)}


def test_list_as_json_lines_piped_to_head_exits_0_with_one_object(
    dlq: Run, letters: tuple[DeadLetterQueue, list[DeadLetter]]
) -> None:
    dead, made = letters
    for number in range(2000):  # far more output than a pipe holds, so the pipe does close
        dead.add(dataclasses.replace(made[-1], id=f"{number:032x}", detail="x" * 200))

    listed = dlq("list", "--json", "--limit", "5000", shell_tail="| head -1")

    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    [line] = listed.stdout.splitlines()
    assert json.loads(line)["emission_id"] == made[0].emission_id


def test_show_as_json_prints_the_whole_record(
    dlq: Run, letters: tuple[DeadLetterQueue, list[DeadLetter]]
) -> None:
    letter = letters[1][4]

    shown = dlq("show", letter.id, "--json")

    assert shown.returncode == 0, shown.stderr
    assert DeadLetter.from_json(json.loads(shown.stdout)) == letter


@pytest.mark.parametrize(
    ("options", "keep"),
    [
        (["--event", "'order.*'"], lambda letter: letter.event.startswith("order.")),
        (["--reason", "signature"], lambda letter: letter.reason == "signature"),
        (["--older-than", "2h"], lambda letter: letter.emission_id < f"{3:032x}"),
        (
            ["--event", "order.paid", "--reason", "failed", "--older-than", "1h"],
            lambda letter: letter.emission_id == f"{0:032x}",
        ),
    ],
)
def test_each_list_filter_selects_exactly_the_matching_letters(
    dlq: Run,
    letters: tuple[DeadLetterQueue, list[DeadLetter]],
    options: list[str],
    keep: Callable[[DeadLetter], bool],
) -> None:
    listed = dlq("list", "--json", *options)

    assert listed.returncode == 0, listed.stderr
    assert ids_in(listed.stdout) == ids_of(letters[1], keep)


def test_purge_with_a_filter_deletes_only_the_matching_letters(
    dlq: Run, letters: tuple[DeadLetterQueue, list[DeadLetter]]
) -> None:
    dead, made = letters

    purged = dlq("purge", "--yes", "--reason", "signature")

    assert purged.returncode == 0, purged.stderr
    assert "deleted 2 dead letter(s)" in purged.stdout
    assert {letter.emission_id for letter in dead.list()} == ids_of(
        made, lambda letter: letter.reason != "signature"
    )


def test_replay_with_a_filter_touches_only_the_matching_letters(
    dlq: Run, letters: tuple[DeadLetterQueue, list[DeadLetter]]
) -> None:
    dead, made = letters

    replayed = dlq("replay", "--all", "--event", "user.created")

    # These letters carry no envelope: both are skipped as not replayable, the rest untouched.
    assert replayed.stdout.count("skipped ") == 2
    assert "replayed " not in replayed.stdout
    assert "replaying:" not in replayed.stderr
    assert len(dead.list()) == len(made)


def test_an_age_that_is_not_a_duration_is_bad_usage(
    dlq: Run, letters: tuple[DeadLetterQueue, list[DeadLetter]]
) -> None:
    listed = dlq("list", "--older-than", "soon")

    assert listed.returncode == 2
    assert "--older-than: expected a duration" in listed.stderr


def test_version_prints_the_package_version(dlq: Run) -> None:
    shown = dlq("--version")

    assert shown.returncode == 0
    assert shown.stdout.strip() == f"events-dlq {events_contrib.__version__}"
