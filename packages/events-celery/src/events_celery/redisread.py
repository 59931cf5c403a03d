"""kombu's Redis transport, with items that are not kombu messages set aside.

kombu's Redis channel reads a queue with BRPOP and parses each item as its JSON message
(`Channel._brpop_read`: `self.connection._deliver(loads(bytes_to_str(item)), dest)`). An item
that is not UTF-8 JSON of that shape raises there, inside the worker's event loop, so the
worker exits ("Unrecoverable error") and the item, already popped, is lost. This transport's
channel checks each item first and hands an unreadable one, undecoded, to `on_garbage` (the
worker's consumer dead-letters it), then goes on reading. It also keeps one `redis.Redis`
client per connection pool for the commands kombu sends outside BRPOP (acknowledgements, the
unacked index, restores), where kombu builds a new client for each (about 50 µs with
redis-py 8); a client holds no connection of its own, so one serves them all.

A worker uses it for a `redis://` or `rediss://` broker unless `broker_transport` is set.
"""

from __future__ import annotations

from collections.abc import Callable
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

TRANSPORT = "events_celery.redisread:Transport"
"""The `broker_transport` value that selects this transport."""

SCHEMES = frozenset({"redis", "rediss"})
"""Broker URL schemes this transport reads."""

Garbage = Callable[[str, bytes], bool]
"""Called with the queue and the raw bytes of an item that is not a kombu message; returns
False when the item could not be set aside (it then goes back to the far end of its list)."""


class Channel(kombu_redis.Channel):  # type: ignore[misc]  # kombu has no type hints
    """kombu's Redis channel; an unreadable item goes to `on_garbage`, not up the stack."""

    on_garbage: Garbage | None = None
    _sync_client: tuple[Any, Any] | None = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        cached = self._sync_client
        if cached is None or cached[0] is not pool:
            cached = self._sync_client = (pool, super()._create_client())
        return cached[1]

    def _brpop_read(self, **options: Any) -> bool:
        # kombu 5.x's Channel._brpop_read, with the item checked before it is delivered.
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            payload = self.readable_payload(item)
            if payload is not None:
                self.connection.deliver(payload, dest)
            elif self.on_garbage is not None:
                raw = item if isinstance(item, bytes) else str(item).encode()
                if not self.on_garbage(dest, raw):
                    with self.conn_or_acquire() as client:
                        client.lpush(dest, raw)  # the far end: read again after the others
            return True
        finally:
            self._in_poll = None
            flush = getattr(self, "_flush_brpop_reauth", None)
            if flush is not None:
                flush()

    def readable_payload(self, item: Any) -> dict[str, Any] | None:
        """The item as a kombu message payload, or None when kombu could not read it."""
        try:
            payload = loads(bytes_to_str(item))
            properties = payload["properties"]
            if not (
                isinstance(payload, dict)
                and isinstance(properties, dict)
                and "delivery_tag" in properties
                and isinstance(properties.get("delivery_info", {}), dict)
                and isinstance(payload.get("headers") or {}, dict)
            ):
                return None
            body = payload.get("body")
            if body:
                self.decode_body(body, properties.get("body_encoding"))
        except Exception:  # any failure here is a failure of kombu's to read the item
            return None
        return payload


class Transport(kombu_redis.Transport):  # type: ignore[misc]  # kombu has no type hints
    """kombu's Redis transport with `Channel`."""

    Channel = Channel

    def deliver(self, payload: dict[str, Any], queue: str) -> None:
        """Hand a read payload to the consumer of `queue`."""
        self._deliver(payload, queue)
