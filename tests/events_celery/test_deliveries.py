from __future__ import annotations

from typing import Any

import pytest
from kombu.message import Message

from events_celery.deliveries import DELIVERIES_HEADER, deliveries, not_started, redelivered


def message(headers: dict[str, Any], redelivered: bool) -> Message:
    return Message(body=b"[]", headers=headers, delivery_info={"redelivered": redelivered})


@pytest.mark.parametrize(
    ("headers", "again", "expected"),
    [
        ({}, False, 1),
        ({}, True, 2),
        ({DELIVERIES_HEADER: 2}, False, 2),
        ({DELIVERIES_HEADER: 2}, True, 3),
        ({DELIVERIES_HEADER: "9"}, True, 2),
        ({DELIVERIES_HEADER: -4}, False, 1),
    ],
)
def test_deliveries_count_the_header_and_one_more_when_redelivered(
    headers: dict[str, Any], again: bool, expected: int
) -> None:
    found = message(headers, again)

    assert redelivered(found) is again
    assert deliveries(found) == expected


@pytest.mark.parametrize(
    ("eta", "expected"),
    [
        ("2030-01-01T00:00:00+00:00", True),
        ("2030-01-01T00:00:00", True),
        ("2020-01-01T00:00:00+00:00", False),
        ("not a date", False),
        (None, False),
    ],
)
def test_a_message_due_in_the_future_never_started(eta: str | None, expected: bool) -> None:
    found = message({"eta": eta}, True)

    assert not_started(found, now=1767225600.0) is expected  # 2026-01-01
