"""Reading a dead-letter queue on the broker without taking letters off it.

- Redis: kombu keeps a queue as a list named after it, newest on the left. Letters are read
  with LRANGE from the right (oldest first), one page at a time, and counted with LLEN; nothing
  is popped, so a reader that dies hides nothing and readers never disturb each other. A letter
  is removed with LREM of its exact stored bytes, which touches no other letter.
- RabbitMQ: a classic queue cannot be read without consuming it, so a reader first declares the
  exclusive queue `<name>.lock` (readers wait for each other there, so they agree), then gets
  letters unacknowledged and gives every one back by closing its channel, exactly as the broker
  does for a reader that dies: it requeues a closed channel's letters in place, and drops the
  lock with the reader's connection.
- Other transports (the in-memory one of unit tests): get, then requeue, without a lock.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import Queue
from kombu.message import Message
from kombu.serialization import prepare_accept_content
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from events_contrib.errors import DeadLetterQueueBusyError

PAGE = 500
"""Letters fetched per round trip when a scan goes through the whole queue."""

LOCK_SUFFIX = ".lock"
"""Appended to the dead-letter queue's name for its readers' lock on RabbitMQ."""

_ACCEPT = prepare_accept_content(["json"])
_RESOURCE_LOCKED = 405


@dataclass(frozen=True)
class Stored:
    """One message read from the queue, still on it until `take` is called."""

    message: Message
    take: Callable[[], bool]
    """Remove the message from the queue; False when it was already gone."""


class Shelf:
    """The letters of one queue, for the length of one `open_shelf` block."""

    def __init__(self) -> None:
        self.read = 0
        """Messages fetched from the broker so far."""

    def count(self) -> int:
        """How many letters the queue holds."""
        raise NotImplementedError

    def page(self, limit: int | None) -> tuple[list[Stored], int]:
        """The oldest `limit` letters (all if None) and the queue's length, read together."""
        raise NotImplementedError

    def scan(self) -> Iterator[Stored]:
        """Every letter, oldest first, fetched page by page."""
        raise NotImplementedError

    def purge(self) -> int:
        """Delete every letter; return how many there were."""
        raise NotImplementedError


@contextmanager
def open_shelf(app: Celery, queue: Queue, lock_timeout: float) -> Iterator[Shelf]:
    """Open the queue's letters for reading and removing, as the broker allows.

    Raises:
        DeadLetterQueueBusyError: on RabbitMQ, other readers held the queue past `lock_timeout`.
    """
    with app.connection_for_write() as connection:
        driver = connection.transport.driver_type
        if driver == "redis":
            yield RedisShelf(connection.default_channel, queue)
        elif driver == "amqp":
            with _locked(connection, queue.name + LOCK_SUFFIX, lock_timeout):
                shelf = HeldShelf(connection, queue, by_closing=True)
                try:
                    yield shelf
                finally:
                    shelf.give_back()
        else:
            shelf = HeldShelf(connection, queue, by_closing=False)
            try:
                yield shelf
            finally:
                shelf.give_back()


class RedisShelf(Shelf):
    """Letters read in place from the Redis list that holds the queue."""

    def __init__(self, channel: Any, queue: Queue) -> None:
        super().__init__()
        self.channel = channel
        self.client = channel.client
        self.queue = queue
        self.name: str = queue.name
        self._position = 0  # letters before the next one a scan reads, counted from the oldest

    def _key(self, command: str) -> str:
        # kombu's `global_keyprefix` client prefixes only the commands kombu itself sends.
        if command in getattr(self.client, "PREFIXED_SIMPLE_COMMANDS", ()):
            return self.name
        return str(getattr(self.channel, "global_keyprefix", "") or "") + self.name

    def count(self) -> int:
        """LLEN of the list."""
        return int(self.client.llen(self._key("LLEN")))

    def page(self, limit: int | None) -> tuple[list[Stored], int]:
        """One LRANGE of the `limit` rightmost items and LLEN, in one transaction."""
        if limit is not None and limit <= 0:
            return [], self.count()
        with self.client.pipeline(transaction=True) as pipe:
            pipe.llen(self._key("LLEN"))
            pipe.lrange(self._key("LRANGE"), 0 if limit is None else -limit, -1)
            total, raws = pipe.execute()
        return [self._stored(raw) for raw in reversed(raws)], int(total)

    def scan(self) -> Iterator[Stored]:
        """LRANGE pages from the right; a letter taken meanwhile moves the next page by one."""
        self._position = 0
        while True:
            start = self._position
            raws = self.client.lrange(self._key("LRANGE"), -(start + PAGE), -(start + 1))
            for raw in reversed(raws):
                self._position += 1
                yield self._stored(raw)
            if len(raws) < PAGE:
                return

    def purge(self) -> int:
        """Delete the list."""
        return int(self.queue.bind(self.channel).purge() or 0)

    def _stored(self, raw: bytes) -> Stored:
        self.read += 1
        payload = loads(bytes_to_str(raw))
        message = self.channel.Message(payload, channel=self.channel, accept=_ACCEPT)
        return Stored(message, lambda: self._take(raw))

    def _take(self, raw: bytes) -> bool:
        removed = int(self.client.lrem(self._key("LREM"), 1, raw))
        if removed:
            self._position -= 1
        return bool(removed)


class HeldShelf(Shelf):
    """Letters got unacknowledged, and all given back (requeued in place) when done.

    On AMQP they are given back by closing the channel: RabbitMQ requeues a closed channel's
    messages at once, where basic.recover or one reject each takes it seconds per thousand.
    """

    def __init__(self, connection: Any, queue: Queue, by_closing: bool) -> None:
        super().__init__()
        self.connection = connection
        self.queue = queue
        self.by_closing = by_closing
        """Give back by closing the channel (AMQP) rather than message by message."""
        self._open()

    def _open(self) -> None:
        self.channel = self.connection.channel()
        self.bound = self.queue.bind(self.channel)
        self.bound.declare()
        self._held: list[Message] = []  # kept only when given back one by one
        self._holding = False

    def count(self) -> int:
        """Ready messages, from a passive declare made after one get.

        RabbitMQ answers a declare ahead of the messages its queue has not handled yet, and a
        requeue (ours, or the last reader's) may be one of them; a get is served in order, so
        the count that follows it includes every letter given back before.
        """
        self.give_back(close=False)
        first = self._get()
        _, count, _ = self.bound.queue_declare(passive=True)
        return int(count) + (first is not None)

    def page(self, limit: int | None) -> tuple[list[Stored], int]:
        """The count, then at most `limit` gets."""
        total = self.count()
        if limit is not None and limit <= 0:
            return [], total
        return list(itertools.islice(self.scan(), limit)), total

    def scan(self) -> Iterator[Stored]:
        """Gets until the queue has no ready message (everything got so far is held)."""
        self.give_back(close=False)
        while (message := self._get()) is not None:
            self.read += 1
            yield Stored(message, functools.partial(self._take, message))

    def purge(self) -> int:
        """Purge the ready messages (nothing else is held while this block runs)."""
        self.give_back(close=False)
        return int(self.bound.purge() or 0)

    def give_back(self, close: bool = True) -> None:
        """Requeue every message got and not taken, in its place; reopen unless `close`."""
        if self.by_closing:
            if self._holding or close:
                self.channel.close()
                if not close:
                    self._open()
            return
        for message in self._held:
            if not message.acknowledged:
                message.requeue()
        self._held.clear()
        if close:
            self.channel.close()

    def _get(self) -> Message | None:
        message = self.bound.get(no_ack=False, accept=_ACCEPT)
        if message is not None:
            self._holding = True
            if not self.by_closing:
                self._held.append(message)
        return message

    def _take(self, message: Message) -> bool:
        message.ack()
        return True


@contextmanager
def _locked(connection: Any, name: str, timeout: float) -> Iterator[None]:
    """Hold the exclusive queue `name` on this connection; wait while another holds it."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        channel = connection.channel()
        try:
            channel.queue_declare(
                queue=name,
                exclusive=True,
                auto_delete=True,
                durable=False,
                arguments={"x-queue-type": "classic"},
            )
            break
        except connection.channel_errors as exc:
            if getattr(exc, "code", None) != _RESOURCE_LOCKED:
                raise
            if time.monotonic() > deadline:
                raise DeadLetterQueueBusyError(name, timeout) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        # The broker also drops it when the connection closes, a dead reader's included.
        with contextlib.suppress(*connection.connection_errors, *connection.channel_errors):
            channel.queue_delete(queue=name)
            channel.close()
