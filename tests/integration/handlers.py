"""Handlers that integration-test workers import; each records what it did in Redis."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import redis

from events_celery import time_limit
from events_contrib import Backoff, retry
from events_core import EventLinker

RECORD_KEY_ENV = "ITEST_RECORD_KEY"
REDIS_URL = "redis://127.0.0.1:6379/15"


def record(handler: str, **data: Any) -> None:
    """Append what a handler saw to the Redis list named by $ITEST_RECORD_KEY."""
    key = os.environ[RECORD_KEY_ENV]
    entry = {
        "handler": handler,
        "pid": os.getpid(),
        "worker": os.environ.get("ITEST_WORKER_NAME", ""),
        "at": time.time(),
        **data,
    }
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.rpush(key, json.dumps(entry))
    finally:
        client.close()


def _calls(name: str) -> int:
    """Count one more call of `name` in this test's Redis namespace; return the count."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.incr(f"{os.environ[RECORD_KEY_ENV]}:{name}"))
    finally:
        client.close()


def is_fixed() -> bool:
    """Whether the test has 'deployed a fix' for the doomed handler."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return bool(client.exists(f"{os.environ[RECORD_KEY_ENV]}:fixed"))
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
class Shipment:
    """A class event nesting what JSON lacks: a dataclass, tuples, datetime, Decimal, UUID."""

    shipment_id: UUID
    shipped_at: datetime
    value: Decimal
    parcel: Parcel
    dimensions: tuple[int, int, int]


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


@EventLinker.on(Shipment)
def on_shipment(shipment: Shipment) -> None:
    parcel = shipment.parcel
    record(
        "on_shipment",
        shipment_id=str(shipment.shipment_id),
        shipped_at=shipment.shipped_at.isoformat(),
        value=str(shipment.value),
        parcel_type=type(parcel).__name__,
        items=[[type(item).__name__, item.sku, item.quantity] for item in parcel.items],
        types=[type(value).__name__ for value in (shipment.shipped_at, shipment.value)],
        dimensions=[type(shipment.dimensions).__name__, *shipment.dimensions],
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


class AsyncTripler:
    """A handler that is an object with an `async def __call__`; fails when made to."""

    def __init__(self, name: str, *, fails: bool = False) -> None:
        self.name = name
        self.fails = fails

    async def __call__(self, value: int) -> int:
        await asyncio.sleep(0)
        record(self.name, value=value)
        if self.fails:
            raise ValueError(f"{self.name} cannot handle {value}")
        return value * 3


class AsyncRecorder:
    """A success or failure callback that is an object with an `async def __call__`."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, outcome: Any) -> None:
        await asyncio.sleep(0)
        if isinstance(outcome, BaseException):
            record(self.name, error=type(outcome).__name__, message=str(outcome))
        else:
            record(self.name, result=outcome)


# Module-level instances: each one's ref is the attribute holding it
# (`tests.integration.handlers:async_tripler`), the same in the producer and the worker.
async_tripler = AsyncTripler("async_tripler")
async_failing = AsyncTripler("async_failing", fails=True)
async_on_result = AsyncRecorder("async_on_result")
async_on_error = AsyncRecorder("async_on_error")
EventLinker.subscribe(
    "itest.async_callables", event_callback=async_tripler, success_callback=async_on_result
)
EventLinker.subscribe(
    "itest.async_callables", event_callback=async_failing, failure_callback=async_on_error
)


@EventLinker.once("itest.once_per_process")
def once_per_process(number: int) -> None:
    """Taken by the worker process that first resolves the event: once per process."""
    record("once_per_process", number=number)


@EventLinker.on("itest.once_per_process")
def every_delivery(number: int) -> None:
    """A slow sibling, so that deliveries spread over the worker processes."""
    time.sleep(0.3)
    record("every_delivery", number=number)


@EventLinker.on("itest.slow")
def slow(number: int, *, seconds: float = 0.5) -> None:
    time.sleep(seconds)
    record("slow", number=number)


@Isolated.on("itest.text")
def isolated_text(text: str, *, n: int = 0) -> None:
    record("isolated_text", text=text, n=n)


@EventLinker.on("itest.flaky")
@retry(max_attempts=3, backoff=Backoff(initial=1.0, factor=2.0, jitter=False))
def flaky(token: str) -> None:
    """Fails on its first two calls, then succeeds."""
    calls = _calls(f"flaky:{token}")
    record("flaky", token=token, call=calls)
    if calls < 3:
        raise ConnectionError(f"flaky call {calls}")


@EventLinker.on("itest.flaky")
def steady(token: str) -> None:
    """A sibling of flaky that always succeeds: it must run once."""
    record("steady", token=token)


@EventLinker.on("itest.doomed")
def doomed(token: str) -> None:
    """Fails until the test marks it fixed (the settings retry policy applies)."""
    record("doomed", token=token, fixed=is_fixed())
    if not is_fixed():
        raise RuntimeError("doomed handler failed")


@EventLinker.on("itest.routed.order", "itest.unrouted")
def routed(label: str) -> None:
    record("routed", label=label)


@EventLinker.on("itest.invalid")
def reject_order(order_id: int, *, card: str) -> None:
    """Always refuses the order; its message names the order, never the card."""
    record("reject_order", order_id=order_id)
    raise ValueError(f"order {order_id} is invalid")


@EventLinker.on("itest.crash")
def crash(token: str) -> None:
    """Kills its own process, as a segfault or the OOM killer would."""
    record("crash", token=token)
    os._exit(1)


@EventLinker.on("itest.sleepy")
def sleepy(token: str, seconds: float) -> None:
    """Sleeps; past events_handler_time_limit it fails with HandlerTimeoutError."""
    record("sleepy", token=token)
    time.sleep(seconds)
    record("sleepy_done", token=token)


@EventLinker.on("itest.brief")
@time_limit(0.5)
async def brief(token: str, seconds: float) -> None:
    """An async handler with its own time limit of half a second."""
    record("brief", token=token)
    await asyncio.sleep(seconds)
    record("brief_done", token=token)


@EventLinker.on("itest.hangs_once")
def hangs_once(token: str) -> None:
    """Hangs on its first call only (past Celery's task_time_limit), then returns."""
    calls = _calls(f"hangs_once:{token}")
    record("hangs_once", token=token, call=calls)
    if calls == 1:
        time.sleep(60)


@EventLinker.on("itest.outboxed")
def outboxed(number: int) -> None:
    """Records each event a relay published from an outbox table."""
    record("outboxed", number=number)


@EventLinker.on("itest.batch")
def batched(number: int, *, seconds: float = 0.0) -> None:
    """Records each emission of a batch (after `seconds`, to be killed mid-batch)."""
    if seconds:
        time.sleep(seconds)
    record("batched", number=number)


@EventLinker.on("itest.batch.mixed")
@retry(max_attempts=3, backoff=Backoff(initial=0.2, factor=1.0, jitter=False))
def fragile(number: int) -> None:
    """Fails every time for emission 3 of its batch, succeeds for the others."""
    record("fragile", number=number)
    if number == 3:
        raise RuntimeError("fragile handler failed")


@EventLinker.on("itest.batch.mixed")
async def sturdy(number: int) -> None:
    """An async sibling of fragile that always succeeds: it must run once per emission."""
    await asyncio.sleep(0)
    record("sturdy", number=number)
