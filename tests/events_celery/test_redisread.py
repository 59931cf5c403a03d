"""The worker's Redis transport against the real Redis: messages round-trip through it, and
the commands around them share one client instead of building one each."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis
from kombu import Connection

from events_celery.redisread import Transport

BROKER = "redis://127.0.0.1:6379/0"


def test_messages_are_read_and_acknowledged_with_one_client_for_the_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []
    original = redis.Redis.__init__

    def counting(self: redis.Redis, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    name = f"utest-redisread-{uuid.uuid4().hex[:8]}"
    with Connection(BROKER, transport=Transport) as connection:
        queue = connection.SimpleQueue(name)
        try:
            queue.get_nowait  # noqa: B018  (declares the queue before counting)
            monkeypatch.setattr(redis.Redis, "__init__", counting)
            for number in range(20):
                queue.put({"n": number})
            received = []
            for _ in range(20):
                message = queue.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
        finally:
            monkeypatch.undo()
            queue.clear()
            queue.close()
            connection.default_channel.queue_delete(name)

    assert received == list(range(20))
    # kombu alone builds a client for every put and every acknowledgement (40 here).
    assert len(built) <= 2


def test_a_new_pool_gets_a_new_client() -> None:
    with Connection(BROKER, transport=Transport) as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        channel._pool = None  # what kombu does when the channel drops its connections

        second = channel._create_client()

        assert second is not first
        assert second.connection_pool is channel.pool
        assert second.ping()
