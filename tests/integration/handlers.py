"""Handlers that integration-test workers import; each records what it did in Redis."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from events_core import EventLinker

RECORD_KEY_ENV = "ITEST_RECORD_KEY"
REDIS_URL = "redis://127.0.0.1:6379/15"


def record(handler: str, **data: Any) -> None:
    """Append what a handler saw to the Redis list named by $ITEST_RECORD_KEY."""
    key = os.environ[RECORD_KEY_ENV]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.rpush(key, json.dumps({"handler": handler, "pid": os.getpid(), **data}))
    finally:
        client.close()


@dataclass(frozen=True)
class Item:
    """A line of a parcel; nested inside an event."""

    sku: str
    quantity: int


@dataclass(frozen=True)
class Parcel:
    """A class event."""

    parcel_id: int
    items: tuple[Item, ...] = field(default=())


@dataclass(frozen=True)
class ExpressParcel(Parcel):
    """A subclass event: Parcel's handlers receive it too."""


@dataclass(frozen=True)
class NeverSubscribed:
    """A dataclass no handler subscribes to: a worker must refuse to rebuild it."""

    secret: str


class Isolated(EventLinker):
    """A second namespace sharing the app and the task."""


@EventLinker.on("itest.text")
def on_text(text: str, *, n: int = 0) -> str:
    record("on_text", text=text, n=n)
    return text.upper()


@EventLinker.on("itest.text")
async def on_text_async(text: str, *, n: int = 0) -> None:
    await asyncio.sleep(0)
    record("on_text_async", text=text, n=n)


@EventLinker.on(Parcel)
def on_parcel(parcel: Parcel) -> None:
    record(
        "on_parcel",
        type=type(parcel).__name__,
        parcel_id=parcel.parcel_id,
        items=[[item.sku, item.quantity] for item in parcel.items],
    )


def on_result(result: Any) -> None:
    record("on_result", result=result)


def on_error(exc: BaseException) -> None:
    record("on_error", error=type(exc).__name__, message=str(exc))


def multiply(value: int) -> int:
    record("multiply", value=value)
    return value * 2


def explode(value: int) -> None:
    record("explode", value=value)
    raise ValueError(f"cannot handle {value}")


EventLinker.subscribe("itest.callbacks", event_callback=multiply, success_callback=on_result)
EventLinker.subscribe("itest.callbacks", event_callback=explode, failure_callback=on_error)


@EventLinker.on("itest.slow")
def slow(number: int, *, seconds: float = 0.5) -> None:
    time.sleep(seconds)
    record("slow", number=number)


@Isolated.on("itest.text")
def isolated_text(text: str, *, n: int = 0) -> None:
    record("isolated_text", text=text, n=n)
