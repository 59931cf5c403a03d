"""`Publisher`: sealing bodies into envelopes and publishing them for `events.execute`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

from events_celery import Envelope, install
from events_celery.body import Body, Meta, decode_body
from events_celery.errors import ConfigurationError, EncodeError, PublishError
from events_celery.publisher import MESSAGE_OVERHEAD, TASK_NAME
from events_celery.signing import derive_key_id
from tests.events_celery.conftest import unique_queue

Drain = Callable[[str], list[tuple[Any, dict[str, Any]]]]


def body(**changes: Any) -> Body:
    fields: dict[str, Any] = {
        "kind": "name",
        "linker": "events_core.registry:EventLinker",
        "handlers": ("shop.handlers:send_receipt",),
        "timestamp": 1718000000.0,
        "headers": {},
        "meta": Meta(),
        "args": (1,),
        "kwargs": {"secret_payload": "card-4242"},
    }
    fields.update(changes)
    return Body(**fields)


def test_sealing_encodes_with_json_by_default_and_leaves_the_envelope_unsigned(
    app: Celery,
) -> None:
    envelope = install(app).publisher.seal("a" * 32, "OrderPlaced", body())

    assert (envelope.id, envelope.event, envelope.codec) == ("a" * 32, "OrderPlaced", "json")
    assert (envelope.kid, envelope.sig) == (None, None)
    assert decode_body(envelope.body, "json", lambda path, kind: object) == body()


def test_sealing_signs_when_a_key_is_set(app: Celery) -> None:
    runtime = install(app, signing_key="secret")
    publisher = runtime.publisher

    envelope = publisher.seal("a" * 32, "OrderPlaced", body())

    assert envelope.kid == derive_key_id(b"secret")
    envelope.verify(runtime.settings.keyring)


def test_sealing_uses_pickle_when_it_is_configured(app: Celery) -> None:
    publisher = install(app, signing_key="secret", serializer="pickle").publisher

    envelope = publisher.seal("a" * 32, "OrderPlaced", body())

    assert envelope.codec == "pickle"
    assert "pickle" in json.loads(envelope.body)
    envelope.verify(publisher.settings.keyring)


def test_send_publishes_the_envelope_as_the_task_argument(app: Celery, drain: Drain) -> None:
    publisher = install(app).publisher
    queue = unique_queue()
    envelope = publisher.seal("b" * 32, "OrderPlaced", body())

    publisher.send(envelope, queue)

    [(message, headers)] = drain(queue)
    assert Envelope.parse(message) == envelope
    assert headers["task"] == TASK_NAME
    assert headers["id"] == envelope.id


def test_the_task_repr_in_celery_shows_event_and_id_never_the_payload(
    app: Celery, drain: Drain
) -> None:
    publisher = install(app).publisher
    queue = unique_queue()

    publisher.send(publisher.seal("c" * 32, "OrderPlaced", body()), queue)

    [(_, headers)] = drain(queue)
    assert headers["argsrepr"] == f"('OrderPlaced', '{'c' * 32}')"
    assert headers["kwargsrepr"] == "{}"
    assert "card-4242" not in headers["argsrepr"] + headers["kwargsrepr"]


def test_send_with_a_countdown_sets_an_eta(app: Celery, drain: Drain) -> None:
    publisher = install(app).publisher
    queue = unique_queue()

    publisher.send(publisher.seal("d" * 32, "OrderPlaced", body()), queue, countdown=30)

    [(_, headers)] = drain(queue)
    assert headers["eta"] is not None


def test_a_broker_that_cannot_be_used_raises_publish_error_naming_event_and_queue() -> None:
    broken = Celery("utest", broker="no-such-transport://", set_as_current=False)
    publisher = install(broken).publisher

    with pytest.raises(PublishError) as caught:
        publisher.send(publisher.seal("e" * 32, "OrderPlaced", body()), "orders")

    assert caught.value.event == "OrderPlaced"
    assert caught.value.queue == "orders"
    assert caught.value.emission_id == "e" * 32
    assert "'OrderPlaced'" in str(caught.value)
    assert "'orders'" in str(caught.value)


def test_sealing_a_body_over_the_size_limit_raises_encode_error_naming_the_size(
    app: Celery,
) -> None:
    app.conf.events_max_message_bytes = 4096
    publisher = install(app).publisher

    with pytest.raises(EncodeError) as raised:
        publisher.seal("f" * 32, "OrderPlaced", body(kwargs={"blob": "x" * 4096}))

    assert "events_max_message_bytes (4096)" in str(raised.value)
    assert "'OrderPlaced'" in str(raised.value)


def test_the_size_estimate_is_never_below_the_message_celery_sends(
    app: Celery, drain: Drain
) -> None:
    publisher = install(app).publisher
    queue = unique_queue()
    text = {"quote": '"' * 500, "slash": "\\\\" * 500, "plain": "y" * 2000}
    envelope = publisher.seal("a" * 32, "Order" * 100, body(kwargs=text))
    app.conf.events_max_message_bytes = 1_000_000

    publisher.send(envelope, queue)

    [(message, headers)] = drain(queue)
    sent = len(json.dumps([[message], {}, {}]).encode()) + len(json.dumps(headers).encode())
    escaped = envelope.body.count('"') + envelope.body.count("\\")
    estimate = len(envelope.body) + escaped + 3 * len(envelope.event) + MESSAGE_OVERHEAD
    assert estimate >= sent


@pytest.mark.parametrize("value", [0, 1023, "big", 2.5, True])
def test_a_message_size_limit_that_is_not_a_byte_count_is_refused(app: Celery, value: Any) -> None:
    app.conf.events_max_message_bytes = value

    with pytest.raises(ConfigurationError) as raised:
        install(app)

    assert raised.value.setting == "events_max_message_bytes"
