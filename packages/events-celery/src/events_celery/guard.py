"""The main-process check of a message on a queue of events, before it reaches the pool.

Celery reads a few headers in the worker's main process and hands the rest to a pool child,
pickled; a message shaped to break that step (no `id` header, a body nested hundreds deep,
bytes that are not JSON) crashes the consumer or the main process instead of one task. The
check here runs first and refuses anything that is not a well-formed `events.execute` message,
so the message is dead-lettered and the worker goes on.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from events_celery.envelope import Envelope
from events_celery.errors import (
    DecodeError,
    ForeignMessageError,
    MalformedEnvelopeError,
    TooDeepError,
    TooLargeError,
)
from events_celery.publisher import TASK_NAME
from events_celery.wire import CONTENT_TYPE, decode_message

MAX_MESSAGE_DEPTH = 16
"""Deepest nesting of the task message itself (the event's payload is text inside it)."""

MAX_ID_LENGTH = 255
"""Longest task id header accepted."""

JSON_CONTENT_TYPE = "application/json"

_ENCODINGS = frozenset({None, "", "utf-8", "utf8"})


@dataclass(frozen=True)
class MessageGuard:
    """What a worker accepts on its queues of events.

    Attributes:
        queues: the queues of events (the default queue and those add-ons route to).
        max_bytes: the largest body accepted (`events_max_message_bytes`).
        accept_tasks: names or globs of other tasks accepted there (`events_accept_tasks`).
    """

    queues: frozenset[str]
    max_bytes: int
    accept_tasks: tuple[str, ...] = ()

    def covers(self, message: Any) -> bool:
        """Whether the message is for this guard: on a queue of events, or for our task.

        A message whose headers name a task but no id is covered on any queue: Celery's
        consumer would crash reading it.
        """
        if message_queue(message) in self.queues:
            return True
        headers = message.headers
        return isinstance(headers, Mapping) and (
            headers.get("task") == TASK_NAME or ("task" in headers and "id" not in headers)
        )

    def check(self, message: Any) -> dict[str, Any] | None:
        """Check a covered message; return its envelope, or None for an accepted other task.

        Raises:
            EnvelopeError: a subclass naming why the message is refused.
        """
        headers = message.headers
        if not isinstance(headers, Mapping):
            raise MalformedEnvelopeError("the message has no headers")
        task = headers.get("task")
        if not isinstance(task, str) or not task:
            raise MalformedEnvelopeError("the message names no task (header 'task')")
        task_id = headers.get("id")
        if not isinstance(task_id, str) or not 0 < len(task_id) <= MAX_ID_LENGTH:
            raise MalformedEnvelopeError("the message has no valid task id (header 'id')")
        if task != TASK_NAME:
            if any(fnmatch.fnmatchcase(task, pattern) for pattern in self.accept_tasks):
                return None
            raise ForeignMessageError(
                f"task {task[:200]!r} is not accepted on a queue of events "
                f"(see events_accept_tasks)"
            )
        body = raw_body(message)
        if len(body) > self.max_bytes:
            raise TooLargeError(
                f"the message has {len(body)} bytes; events_max_message_bytes is {self.max_bytes}"
            )
        if message.content_encoding not in _ENCODINGS or message.content_type not in (
            JSON_CONTENT_TYPE,
            CONTENT_TYPE,
        ):
            raise DecodeError(
                f"content type {str(message.content_type)[:100]!r} is not {JSON_CONTENT_TYPE} "
                f"or {CONTENT_TYPE} in UTF-8"
            )
        if message.content_type == CONTENT_TYPE:
            data: Any = list(decode_message(body))
        else:
            try:
                data = json.loads(body)
            except RecursionError:
                raise TooDeepError("the message is nested too deep to parse") from None
            except ValueError:
                raise DecodeError("the message body is not JSON") from None
        _check_depth(data)
        if not (
            isinstance(data, list)
            and len(data) == 3
            and isinstance(data[0], list)
            and len(data[0]) == 1
            and data[1] == {}
            and (data[2] is None or isinstance(data[2], dict))
        ):
            raise MalformedEnvelopeError(
                "the message is not [[envelope], {}, options] as events.execute takes"
            )
        envelope: dict[str, Any] = Envelope.parse(data[0][0]).to_message()
        return envelope


def message_queue(message: Any) -> str:
    """The queue a message was delivered from, as its routing key names it."""
    info = message.delivery_info or {}
    return str(info.get("routing_key") or info.get("queue") or "")


def raw_body(message: Any) -> bytes:
    """The message's body as bytes, however the transport gave it."""
    body = message.body
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", "surrogateescape")
    return b""


def _check_depth(data: object) -> None:
    """Refuse nesting deeper than `MAX_MESSAGE_DEPTH`, without recursion.

    Walks the containers level by level; `json.loads` makes plain dicts and lists only.
    """
    level = [data] if type(data) is dict or type(data) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_MESSAGE_DEPTH:
            raise TooDeepError(f"the message is nested deeper than {MAX_MESSAGE_DEPTH} levels")
        nested: list[Any] = []
        for value in level:
            for child in value.values() if type(value) is dict else value:
                if type(child) is dict or type(child) is list:
                    nested.append(child)
        level = nested
