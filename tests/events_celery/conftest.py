"""Fixtures shared by the events-celery unit tests.

Apps use kombu's in-process `memory://` transport. Its queues are process-wide, so every app
gets a default queue no other test uses.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from queue import Empty
from typing import Any

import pytest
from celery import Celery

from events_celery import codecs
from events_celery.classpath import TypeResolver
from events_core import EventLinker

_numbers = itertools.count(1)


def unique_queue() -> str:
    """A queue name no other test uses."""
    return f"utest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def app() -> Iterator[Celery]:
    """A Celery app on the in-memory transport, not yet installed, with its own default queue."""
    celery_app = Celery("utest", broker="memory://", set_as_current=False)
    celery_app.conf.events_default_queue = unique_queue()
    yield celery_app
    celery_app.close()


@pytest.fixture
def linker() -> Iterator[type[EventLinker]]:
    """A fresh `EventLinker` subclass: an isolated namespace for one test."""
    cls = type(f"CeleryTestLinker{next(_numbers)}", (EventLinker,), {})
    yield cls
    cls.remove_all()


@pytest.fixture
def drain(app: Celery) -> Callable[[str], list[tuple[Any, dict[str, Any]]]]:
    """Read (and ack) every message waiting in a queue of the app's in-memory broker.

    Returns `(task argument, message headers)` per message, oldest first: for
    `events.execute` the task argument is the envelope object.
    """

    def read(queue: str) -> list[tuple[Any, dict[str, Any]]]:
        found: list[tuple[Any, dict[str, Any]]] = []
        with app.connection_for_write() as connection:
            simple = connection.SimpleQueue(queue)
            try:
                while True:
                    try:
                        message = simple.get_nowait()
                    except Empty:
                        break
                    message.ack()
                    args, _kwargs, _embed = message.payload
                    found.append((args[0], message.headers))
            finally:
                simple.close()
        return found

    return read


class PlainJsonCodec:
    """A codec for tests: args and kwargs as plain JSON text in one body field."""

    def __init__(self, name: str, unsafe: bool = False) -> None:
        self.name = name
        self.unsafe = unsafe

    def encode(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return {self.name: json.dumps([list(args), dict(kwargs)])}

    def decode(
        self, fields: Mapping[str, Any], resolve: TypeResolver | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args, kwargs = json.loads(fields[self.name])
        return tuple(args), kwargs


@pytest.fixture
def register_codec() -> Iterator[Callable[..., PlainJsonCodec]]:
    """Register `PlainJsonCodec(name, unsafe)` codecs for one test; unregistered after it."""
    added: list[str] = []

    def register(name: str, *, unsafe: bool = False) -> PlainJsonCodec:
        codec = PlainJsonCodec(name, unsafe)
        codecs.register(codec)
        added.append(name)
        return codec

    yield register
    for name in added:
        codecs.unregister(name)
