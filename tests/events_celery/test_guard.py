from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from kombu.message import Message

from events_celery.envelope import Envelope
from events_celery.errors import (
    DecodeError,
    EnvelopeError,
    ForeignMessageError,
    MalformedEnvelopeError,
    TooDeepError,
    TooLargeError,
)
from events_celery.guard import MAX_MESSAGE_DEPTH, MessageGuard
from events_celery.reasons import Reason
from events_celery.wire import CONTENT_TYPE, encode_message

QUEUE = "events"
GUARD = MessageGuard(frozenset({QUEUE}), max_bytes=4096, accept_tasks=("celery.chord*",))
ENVELOPE = Envelope(uuid.uuid4().hex, "OrderPlaced", "json", "{}").to_message()


def message(
    body: Any = None,
    headers: Any = ...,
    content_type: str = "application/json",
    queue: str = QUEUE,
    encoding: str = "utf-8",
) -> Message:
    if body is None:
        body = json.dumps([[ENVELOPE], {}, {"callbacks": None}]).encode()
    if headers is ...:
        headers = {"task": "events.execute", "id": uuid.uuid4().hex}
    return Message(
        body=body,
        headers=headers,
        content_type=content_type,
        content_encoding=encoding,
        delivery_info={"routing_key": queue, "exchange": queue},
    )


def test_a_well_formed_message_passes_and_its_envelope_is_returned() -> None:
    assert GUARD.check(message()) == ENVELOPE


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        (None, MalformedEnvelopeError),
        ({}, MalformedEnvelopeError),
        ({"task": "events.execute"}, MalformedEnvelopeError),
        ({"task": "events.execute", "id": ""}, MalformedEnvelopeError),
        ({"task": "celery.accumulate", "id": "x"}, ForeignMessageError),
        ({"task": "shop.send_mail", "id": "x"}, ForeignMessageError),
    ],
)
def test_a_message_without_our_headers_is_refused(headers: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        GUARD.check(message(headers=headers))


def test_a_task_the_settings_accept_is_left_to_celery() -> None:
    assert GUARD.check(message(headers={"task": "celery.chord_unlock", "id": "x"})) is None


def test_a_message_over_the_size_limit_is_refused_as_too_large() -> None:
    big = json.dumps([["x" * 5000], {}, {}]).encode()

    with pytest.raises(TooLargeError) as caught:
        GUARD.check(message(big))

    assert caught.value.reason == Reason.TOO_LARGE


def nested(depth: int) -> Any:
    """Alternating dicts and lists, `depth` containers deep, with scalars beside them."""
    value: Any = "leaf"
    for level in range(depth):
        value = {"a": value, "n": 1} if level % 2 else [1, value, "x"]
    return value


@pytest.mark.parametrize(
    "body",
    [
        "[" * (MAX_MESSAGE_DEPTH + 1) + "]" * (MAX_MESSAGE_DEPTH + 1),
        "[" * 1000 + "]" * 1000,
        "[" * 100_000 + "]" * 100_000,
        json.dumps(nested(MAX_MESSAGE_DEPTH + 1)),
    ],
)
def test_a_deeply_nested_message_is_refused_as_too_deep(body: str) -> None:
    body_bytes = body.encode()
    guard = MessageGuard(frozenset({QUEUE}), max_bytes=1 << 20)

    with pytest.raises(TooDeepError):
        guard.check(message(body_bytes))


@pytest.mark.parametrize(
    "body",
    [
        "[" * MAX_MESSAGE_DEPTH + "]" * MAX_MESSAGE_DEPTH,
        '{"a": ' * (MAX_MESSAGE_DEPTH - 1) + "{}" + "}" * (MAX_MESSAGE_DEPTH - 1),
        json.dumps(nested(MAX_MESSAGE_DEPTH)),
    ],
)
def test_nesting_up_to_the_limit_is_not_refused_as_too_deep(body: str) -> None:
    guard = MessageGuard(frozenset({QUEUE}), max_bytes=1 << 20)

    with pytest.raises(EnvelopeError) as caught:
        guard.check(message(body.encode()))

    assert not isinstance(caught.value, TooDeepError)


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"\xff\x00garbage", "application/json", DecodeError),
        (b"[1, 2", "application/json", DecodeError),
        (b"{}", "application/x-python-serialize", DecodeError),
        (b"[[1], {}, {}]", "application/json", MalformedEnvelopeError),
        (b'[["a", "b"], {}, {}]', "application/json", MalformedEnvelopeError),
        (b'[[{"v": 1}], {"x": 1}, {}]', "application/json", MalformedEnvelopeError),
    ],
)
def test_a_body_that_is_not_our_message_is_refused(
    body: bytes, content_type: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        GUARD.check(message(body, content_type=content_type))


def test_the_guard_covers_its_queues_and_our_task_anywhere() -> None:
    assert GUARD.covers(message())
    assert GUARD.covers(message(headers=None))
    assert GUARD.covers(message(queue="other"))
    assert GUARD.covers(message(headers={"task": "shop.send_mail"}, queue="other"))
    assert not GUARD.covers(message(headers={"task": "shop.send_mail", "id": "x"}, queue="other"))


def test_an_envelope_message_passes_with_its_body_as_text() -> None:
    sent = {**ENVELOPE, "body": '{"a":"x\\"y"}'}
    body = encode_message(((sent,), {}, {"callbacks": None}))

    assert GUARD.check(message(body.encode(), content_type=CONTENT_TYPE)) == sent


@pytest.mark.parametrize(
    "body",
    [
        b"no newline",
        b"\xff\xfe\n{}",
        b"[1, 2\n{}",
        b'{"v": 3}\n{}',
        b'[{"v": 3}, {}, {}]\n{}',
        b'[{"v": 3, "body": "{}"}, {}]\n{}',
        b"[" * 40 + b"{}" + b"]" * 40 + b"\n{}",
        b"[" * 4000 + b"\n{}",
    ],
)
def test_an_envelope_message_of_the_wrong_shape_is_refused(body: bytes) -> None:
    with pytest.raises((DecodeError, MalformedEnvelopeError, TooDeepError)):
        GUARD.check(message(body, content_type=CONTENT_TYPE))
