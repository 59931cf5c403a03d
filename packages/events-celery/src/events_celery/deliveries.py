"""Counting an emission's deliveries across worker deaths, in the message itself.

A message that comes back marked redelivered (its worker process died, or its connection was
lost, before it was acknowledged) is published again at the tail of its queue with its count
in the `x-events-deliveries` header, and the redelivered copy is acknowledged. The count thus
survives the death of the whole worker, works on every broker, and a message that keeps
killing its process stops blocking the head of the queue.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from celery import Celery

from events_celery.publisher import PUBLISH_RETRY_POLICY

DELIVERIES_HEADER = "x-events-deliveries"
"""Header counting the deliveries a message had before this copy was published."""

_DROPPED_HEADERS = frozenset({"redelivered", DELIVERIES_HEADER})


def redelivered(message: Any) -> bool:
    """Whether the broker marks the message as delivered before."""
    return bool((message.delivery_info or {}).get("redelivered"))


def not_started(message: Any, now: float | None = None) -> bool:
    """Whether a redelivered message surely never ran: its `eta` is still in the future.

    A worker holds a message with an ETA (a retry's countdown) unacknowledged until it is
    due; when that worker stops, the message comes back redelivered without having run.
    """
    headers = message.headers if isinstance(message.headers, dict) else {}
    eta = headers.get("eta")
    if not isinstance(eta, str):
        return False
    try:
        due = datetime.fromisoformat(eta)
    except ValueError:
        return False
    if due.tzinfo is None:
        due = due.replace(tzinfo=timezone.utc)
    return due.timestamp() > (time.time() if now is None else now)


def deliveries(message: Any) -> int:
    """Deliveries of the message, this one included."""
    headers = message.headers if isinstance(message.headers, dict) else {}
    counted = headers.get(DELIVERIES_HEADER)
    before = counted if type(counted) is int and counted > 0 else 1
    return before + 1 if redelivered(message) else before


def republish(app: Celery, message: Any, count: int) -> None:
    """Publish a copy of `message` to the tail of its queue, carrying `count` deliveries.

    Raises:
        Exception: whatever the broker raised after the bounded retry; nothing was acked.
    """
    info = message.delivery_info or {}
    headers = {key: value for key, value in message.headers.items() if key not in _DROPPED_HEADERS}
    headers[DELIVERIES_HEADER] = count
    properties = message.properties or {}
    options = {
        key: properties[key]
        for key in ("correlation_id", "reply_to", "priority")
        if properties.get(key) is not None
    }
    with app.producer_or_acquire() as producer:
        producer.publish(
            message.body,
            exchange=info.get("exchange") or "",
            routing_key=info.get("routing_key") or "",
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=properties.get("delivery_mode") or 2,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
            **options,
        )
