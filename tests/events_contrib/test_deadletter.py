"""DeadLetter records and the envelope a replay sends."""

from __future__ import annotations

import json

import pytest

from events_celery.body import Body, Meta, read_frame
from events_celery.envelope import Envelope
from events_celery.reasons import Reason
from events_celery.signing import Keyring
from events_contrib.deadletter import (
    DeadLetter,
    HandlerFailure,
    _unreplayable,
    new_dead_letter,
    replay_envelope,
)
from events_contrib.errors import InvalidDeadLetterError

KEYRING = Keyring.from_setting("replay-key")


def stored_envelope(handlers: list[str] | None) -> dict[str, object]:
    body = Body(
        kind="name",
        linker="events_core.registry:EventLinker",
        handlers=None if handlers is None else tuple(handlers),
        timestamp=1.0,
        headers={},
        meta=Meta(attempt=3, queue="orders", first_failure=2.0),
        args=(1,),
        kwargs={},
    )
    envelope = Envelope("a" * 32, "order.placed", "json", body.encode("json"))
    return envelope.signed_with(KEYRING).to_message()


def letter(
    reason: str, failures: tuple[HandlerFailure, ...], handlers: list[str] | None
) -> DeadLetter:
    return new_dead_letter(
        emission_id="a" * 32,
        event="order.placed",
        reason=reason,
        queue="orders",
        attempts=3,
        first_failure=2.0,
        failures=failures,
        envelope=stored_envelope(handlers),
    )


def test_a_record_round_trips_through_its_stored_json() -> None:
    failure = HandlerFailure("shop:invoice", Reason.FAILED, "ValueError", "x", "tb")
    original = letter(Reason.FAILED, (failure,), None)

    assert DeadLetter.from_json(json.loads(json.dumps(original.to_json()))) == original


def test_a_replay_runs_only_the_failed_handlers_from_attempt_one_signed_again() -> None:
    failed = letter(
        Reason.FAILED,
        (HandlerFailure("shop:invoice", Reason.FAILED, "ValueError", "", ""),),
        ["shop:receipt", "shop:invoice"],
    )

    envelope = replay_envelope(failed, KEYRING)

    envelope.verify(KEYRING)
    frame = read_frame(envelope.body)
    assert frame["handlers"] == ["shop:invoice"]
    assert frame["meta"] == {
        "attempt": 1,
        "queue": "orders",
        "first_failure": None,
        "replayed_from": failed.id,
    }
    assert envelope.id == failed.emission_id


def test_a_message_refused_as_unregistered_is_replayed_with_its_own_handler_list() -> None:
    refused = letter("unregistered", (), None)

    frame = read_frame(replay_envelope(refused, KEYRING).body)

    assert refused.replayable
    assert frame["handlers"] is None
    assert frame["meta"]["attempt"] == 1


def test_an_emission_that_kept_killing_its_worker_is_replayed_with_its_handler_list() -> None:
    lost = letter("worker_lost", (), None)

    frame = read_frame(replay_envelope(lost, KEYRING).body)

    assert lost.replayable
    assert frame["meta"]["attempt"] == 1


@pytest.mark.parametrize(
    "reason", ["malformed", "undecodable", "too_large", "too_deep", "foreign"]
)
def test_refused_messages_are_never_replayable(reason: str) -> None:
    assert not letter(reason, (), None).replayable
    assert "never replayed" in _unreplayable(letter(reason, (), None), KEYRING)


def test_a_letter_refused_for_its_signature_is_replayable_when_it_verifies_here() -> None:
    refused = letter(Reason.SIGNATURE, (), None)

    assert refused.replayable
    assert _unreplayable(refused, KEYRING) == ""


@pytest.mark.parametrize(
    ("keyring", "problem"),
    [
        (Keyring.from_setting("another-key"), "does not verify with this app's keys"),
        (None, "no signing key"),
    ],
)
def test_a_letter_that_does_not_verify_with_the_replaying_keys_is_not_replayed(
    keyring: Keyring | None, problem: str
) -> None:
    assert problem in _unreplayable(letter(Reason.SIGNATURE, (), None), keyring)


def test_a_tampered_failed_letter_is_not_replayed_even_though_a_worker_ran_it() -> None:
    stored = letter(Reason.FAILED, (), None).to_json()
    envelope = dict(stored["envelope"])
    envelope["body"] = envelope["body"].replace('"args":[1]', '"args":[2]')
    assert envelope["body"] != stored["envelope"]["body"]
    tampered = DeadLetter.from_json({**stored, "envelope": envelope})

    assert "does not match" in _unreplayable(tampered, KEYRING)


def test_a_letter_without_a_valid_envelope_cannot_be_replayed() -> None:
    stored = letter(Reason.FAILED, (), None).to_json()
    broken = DeadLetter.from_json({**stored, "envelope": {"v": 9}})

    with pytest.raises(InvalidDeadLetterError, match="envelope is not valid"):
        replay_envelope(broken, KEYRING)


def test_a_letter_whose_body_is_not_a_body_cannot_be_replayed() -> None:
    stored = letter(Reason.FAILED, (), None)
    envelope = Envelope.parse(stored.envelope)
    unreadable = {**stored.to_json(), "envelope": {**envelope.to_message(), "body": "[1]"}}

    with pytest.raises(InvalidDeadLetterError, match="must be a JSON object"):
        replay_envelope(DeadLetter.from_json(unreadable), KEYRING)
