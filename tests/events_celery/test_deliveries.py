from __future__ import annotations

from typing import Any

import pytest
from kombu.message import Message

from events_celery.deliveries import DELIVERIES_HEADER, deliveries, redelivered


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
