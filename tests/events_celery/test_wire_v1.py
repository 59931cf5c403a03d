"""Version-1 messages written by an earlier release still decode and run (the wire contract).

The messages in `tests/fixtures/envelopes_v1.json` were sealed once and are kept byte for byte;
see `tests/fixtures/make_envelopes_v1.py`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from celery import Celery, states

from events_celery import Envelope, install
from events_celery.body import Body, decode_body
from events_celery.publisher import TASK_NAME
from events_celery.signing import Keyring
from events_celery.trust import LinkerTypes
from events_core import EventLinker
from tests.integration import handlers
from tests.integration.handlers import Item, Parcel, Shipment

FIXTURE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "envelopes_v1.json").read_text(encoding="utf-8")
)
KEY: str = FIXTURE["key"]
MESSAGES: dict[str, dict[str, Any]] = FIXTURE["messages"]
JSON_MESSAGES = [name for name, message in MESSAGES.items() if message["codec"] == "json"]
TEXT_HANDLERS = ("tests.integration.handlers:on_text", "tests.integration.handlers:on_text_async")


def decoded(name: str) -> tuple[Envelope, Body]:
    """Parse, verify and decode a fixture message as a worker with the fixture's key does."""
    envelope = Envelope.parse(MESSAGES[name])
    envelope.verify(Keyring.from_setting(KEY))
    return envelope, decode_body(envelope.body, envelope.codec, LinkerTypes(EventLinker))


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_a_v1_message_parses_back_to_the_same_object(name: str) -> None:
    assert Envelope.parse(MESSAGES[name]).to_message() == MESSAGES[name]


def test_a_v1_string_event_with_kwargs_decodes_to_its_fields() -> None:
    envelope, body = decoded("text_kwargs")

    assert (envelope.v, envelope.event, envelope.codec) == (1, "itest.text", "json")
    assert body.kind == "name"
    assert body.linker == "events_core.registry:EventLinker"
    assert body.handlers == TEXT_HANDLERS
    assert (body.args, body.kwargs) == ((), {"text": "héllo", "n": 7})
    assert (body.meta.attempt, body.meta.queue, body.meta.first_failure) == (1, "events", None)
    assert body.headers == {}


def test_a_v1_class_event_decodes_with_its_nested_values_and_types() -> None:
    envelope, body = decoded("class_nested")

    assert envelope.event == "tests.integration.handlers:Shipment"
    assert body.kind == "class"
    assert body.handlers == ("tests.integration.handlers:on_shipment",)
    assert body.kwargs == {}
    (shipment,) = body.args
    assert shipment == Shipment(
        shipment_id=UUID("12345678-1234-5678-1234-567812345678"),
        shipped_at=datetime(2024, 6, 10, 8, 30, 15, 250000, tzinfo=timezone.utc),
        value=Decimal("1234.50"),
        parcel=Parcel(7, (Item("pen", 2), Item("ink", 1))),
        dimensions=(30, 20, 10),
    )
    assert type(shipment.parcel.items) is tuple
    assert type(shipment.dimensions) is tuple
    assert str(shipment.value) == "1234.50"


def test_a_v1_retry_delivery_keeps_its_meta_headers_and_handler_list() -> None:
    _, body = decoded("retry_meta")

    assert body.meta.attempt == 2
    assert body.meta.first_failure == 1718000001.5
    assert body.meta.queue == "events"
    assert body.timestamp == 1718000000.25
    assert body.headers == {"correlation_id": "c-42"}
    assert body.handlers == ("tests.integration.handlers:on_text",)
    assert (body.args, body.kwargs) == (("retried",), {"n": 2})


def test_a_v1_pickle_message_decodes_to_its_fields() -> None:
    envelope, body = decoded("pickle")

    assert envelope.codec == "pickle"
    assert body.kind == "class"
    assert body.handlers == ("tests.integration.handlers:on_parcel",)
    assert body.args == (Parcel(9, (Item("cup", 3),)),)
    assert body.kwargs == {}


@pytest.mark.parametrize("name", JSON_MESSAGES)
def test_a_v1_json_body_encodes_again_to_the_same_text(name: str) -> None:
    envelope, body = decoded(name)

    assert body.encode(envelope.codec) == envelope.body


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the integration handlers record, kept here instead of in Redis."""
    found: list[dict[str, Any]] = []

    def record(handler: str, **data: Any) -> None:
        found.append({"handler": handler, **data})

    monkeypatch.setattr(handlers, "record", record)
    return found


def execute(app: Celery, name: str) -> Any:
    return app.tasks[TASK_NAME].apply(args=(MESSAGES[name],))


@pytest.mark.parametrize(
    ("name", "ran"),
    [
        ("text_kwargs", ["on_text", "on_text_async"]),
        ("class_nested", ["on_shipment"]),
        ("retry_meta", ["on_text"]),
        ("pickle", ["on_parcel"]),
    ],
)
def test_a_v1_message_runs_its_handlers_on_a_worker_with_the_key(
    app: Celery, records: list[dict[str, Any]], name: str, ran: list[str]
) -> None:
    install(app, signing_key=KEY, serializer=MESSAGES[name]["codec"])

    result = execute(app, name)

    assert result.state == states.SUCCESS
    assert sorted(item["handler"] for item in records) == ran


def test_a_v1_pickle_message_is_refused_by_a_json_worker(
    app: Celery, records: list[dict[str, Any]]
) -> None:
    install(app, signing_key=KEY)

    result = execute(app, "pickle")

    assert result.state == states.REJECTED
    reason = str(result.result.reason)
    assert reason == "undecodable: the pickle codec is not enabled on this worker"
    assert records == []
