from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery
from kombu.serialization import dumps, loads

from events_celery import CeleryEventEmitter, install
from events_celery.bootstrap import runtime_of
from events_celery.envelope import LEGACY_VERSION, VERSION, Envelope
from events_celery.errors import DecodeError, EncodeError, SignatureError
from events_celery.signing import Keyring
from events_celery.wire import (
    CONTENT_TYPE,
    SERIALIZER,
    decode_message,
    encode_message,
    register_serializer,
)
from events_core import EventLinker

KEYRING = Keyring.from_setting("secret")
Drain = Callable[[str], list[tuple[Any, dict[str, Any]]]]
BODY = '{"kind":"name","note":"quote \\" and \\\\ and é"}'


def sealed(body: str = BODY) -> dict[str, Any]:
    envelope = Envelope(uuid.uuid4().hex, "OrderPlaced", "json", body)
    return envelope.signed_with(KEYRING).to_message()


def test_the_body_is_sent_byte_for_byte_after_a_one_line_header() -> None:
    envelope = sealed()

    text = encode_message(((envelope,), {}, {"callbacks": None}))

    head, body = text.split("\n", 1)
    assert body == BODY
    assert '"body"' not in head


@pytest.mark.parametrize("embed", [({"callbacks": None, "chain": None},), ()])
def test_a_message_reads_back_as_it_was_written(embed: tuple[Any, ...]) -> None:
    envelope = sealed()

    back = decode_message(encode_message(((envelope,), {}, *embed)).encode())

    assert back == ([envelope], {}, *embed)
    Envelope.parse(back[0][0]).verify(KEYRING)


def test_kombu_writes_and_reads_it_by_its_registered_name() -> None:
    register_serializer()
    envelope = sealed()

    content_type, encoding, data = dumps(((envelope,), {}, {}), serializer=SERIALIZER)

    assert content_type == CONTENT_TYPE
    assert loads(data, content_type, encoding, accept=[CONTENT_TYPE]) == ([envelope], {}, {})


def test_a_changed_body_byte_fails_the_signature() -> None:
    text = encode_message(((sealed(),), {}, {}))
    tampered = text[:-3] + "X" + text[-2:]

    with pytest.raises(SignatureError):
        Envelope.parse(decode_message(tampered)[0][0]).verify(KEYRING)


@pytest.mark.parametrize(
    "body",
    [
        ((), {}, {}),
        (({"v": VERSION},), {"x": 1}, {}),
        (({"v": 1, "body": "{}"},), {}, {}),
        (("text",), {}, {}),
        (({"v": VERSION, "body": "{}"},), {}, {}, {}),
        {"args": []},
    ],
)
def test_only_one_version_3_envelope_is_written(body: Any) -> None:
    with pytest.raises(EncodeError):
        encode_message(body)


def test_a_message_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(DecodeError, match="not UTF-8"):
        decode_message(b'[{"v": 3}, {}]\n\xff')


def noted(note: str) -> None:
    """A handler the emitter can name."""


def test_an_emit_publishes_its_envelope_in_the_envelope_content_type(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(noted)
    install(app, signing_key="secret")
    CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", note="x")

    with app.connection_for_write() as connection:
        simple = connection.SimpleQueue(runtime_of(app).settings.default_queue)
        message = simple.get(timeout=5)
        message.ack()
        simple.close()

    assert message.content_type == CONTENT_TYPE
    (envelope,), _, _ = message.payload
    assert envelope["v"] == VERSION
    Envelope.parse(envelope).verify(KEYRING)


def test_a_legacy_wire_version_publishes_version_1_json(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("OrderPlaced")(noted)
    install(app, signing_key="secret")
    app.conf.events_wire_version = LEGACY_VERSION
    install(app)
    CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", note="x")

    [(envelope, _)] = drain(runtime_of(app).settings.default_queue)

    assert envelope["v"] == LEGACY_VERSION
    Envelope.parse(envelope).verify(KEYRING)
