"""`Publisher`: seals emissions into envelopes and publishes them for `events.execute`."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from typing import Any

from celery import Celery
from kombu import Connection
from kombu.exceptions import OperationalError

from events_celery.batchwire import BatchItem, join_items
from events_celery.body import Body
from events_celery.envelope import BATCH_EVENT, BATCH_VERSION, VERSION, Envelope
from events_celery.errors import EncodeError, PublishError
from events_celery.settings import EventsSettings
from events_celery.wire import SERIALIZER

TASK_NAME = "events.execute"
"""Name of the task that executes emissions on workers."""

MESSAGE_OVERHEAD = 1024
"""Bytes a task message adds to its envelope's body and event name: headers, ids, the key."""

BATCH_BASE_BYTES = MESSAGE_OVERHEAD + 3 * len(BATCH_EVENT) + 2
"""Bytes of a batch message apart from its items' (`Publisher.batch_item` sizes)."""

PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.0,
    "interval_step": 0.5,
    "interval_max": 1.0,
}
"""Bounded retry of a publish: after it, `emit` raises `PublishError`.

`max_retries` more tries after the first; before try n (from 1) a pause of
`min(interval_start + (n - 1) * interval_step, interval_max)` seconds.
"""

RETRIED = (OperationalError, OSError)
"""Errors of a publish try that another try may get past (connection and time-out errors)."""

_RESET = struct.pack("ii", 1, 0)
"""`SO_LINGER` on with a zero time-out: `close` resets the connection."""


class Publisher:
    """Seals bodies with an app's codec and keys, and publishes them with a bounded retry.

    Args:
        app: the Celery app whose `events.execute` task carries the envelopes.
        settings: the app's validated settings.
        task: the registered task (or the proxy `app.task` returned for it).
    """

    def __init__(self, app: Celery, settings: EventsSettings, task: Any) -> None:
        self.app = app
        self.settings = settings
        self._task = task
        self._bound = False

    def seal(self, emission_id: str, event: str, body: Body) -> Envelope:
        """Encode `body` with the configured codec and sign it.

        Raises:
            EncodeError: a payload value the codec cannot carry.
        """
        codec = self.settings.serializer
        version: int = self.settings.value("events_wire_version")
        text = body.encode(codec)
        size = len(text) + 3 * len(event) + MESSAGE_OVERHEAD
        if version != VERSION:
            # Version 1 sends the body as a JSON string: quotes and backslashes are escaped.
            size += text.count('"') + text.count("\\")
        if size > self.settings.max_message_bytes:
            raise EncodeError(
                f"event {event!r}",
                f"the message would be about {size} bytes, over events_max_message_bytes "
                f"({self.settings.max_message_bytes})",
            )
        envelope = Envelope(id=emission_id, event=event, codec=codec, body=text, v=version)
        return envelope.signed_with(self.settings.keyring)

    def batch_item(self, emission_id: str, event: str, body: Body) -> tuple[str, int]:
        """Encode one emission of a batch: its item's text and the bytes it adds to a message.

        Raises:
            EncodeError: a payload value the codec cannot carry, or an emission too large
                for a message even alone.
        """
        text = BatchItem(emission_id, event, body.encode(self.settings.serializer)).encode()
        size = len(text) + text.count('"') + text.count("\\") + 1
        if size + BATCH_BASE_BYTES > self.settings.max_message_bytes:
            raise EncodeError(
                f"event {event!r}",
                f"the message would be about {size + BATCH_BASE_BYTES} bytes, over "
                f"events_max_message_bytes ({self.settings.max_message_bytes})",
            )
        return text, size

    def seal_batch(self, batch_id: str, items: list[str]) -> Envelope:
        """Sign items made by `batch_item` as one batch envelope (version 2)."""
        envelope = Envelope(
            id=batch_id,
            event=BATCH_EVENT,
            codec=self.settings.serializer,
            body=join_items(items),
            v=BATCH_VERSION,
        )
        return envelope.signed_with(self.settings.keyring)

    def send(self, envelope: Envelope, queue: str, countdown: float | None = None) -> None:
        """Publish an envelope to `queue` with a bounded retry.

        Returns once the broker has taken the message: confirmed on RabbitMQ unless
        `events_publish_confirm` is False, written on Redis.

        Raises:
            PublishError: the broker could not be reached, or did not take the message,
                within the bound (`PUBLISH_RETRY_POLICY` and `events_publish_timeout`).
        """
        retries = int(PUBLISH_RETRY_POLICY["max_retries"])
        for retry in range(retries + 1):
            if retry:
                time.sleep(_pause(retry))
            try:
                self._try_send(envelope, queue, countdown)
                return
            except RETRIED as exc:
                if retry == retries:
                    raise PublishError(envelope.event, queue, exc, envelope.id) from exc
            except Exception as exc:
                raise PublishError(envelope.event, queue, exc, envelope.id) from exc

    def _try_send(self, envelope: Envelope, queue: str, countdown: float | None) -> None:
        timeout = float(self.settings.value("events_publish_timeout"))
        with self.app.producer_or_acquire() as producer:
            try:
                # One connection attempt per try: kombu's own would retry for the whole
                # connect time-out, and `send` already retries.
                producer.connection.ensure_connection(max_retries=0)
                self._executing_task().apply_async(
                    args=(envelope.to_message(),),
                    queue=queue,
                    task_id=envelope.id,
                    countdown=countdown,
                    shadow=envelope.event,
                    serializer=SERIALIZER if envelope.v == VERSION else "json",
                    argsrepr=f"({envelope.event!r}, {envelope.id!r})",
                    kwargsrepr="{}",
                    producer=producer,
                    retry=False,
                    timeout=timeout,
                    confirm_timeout=timeout,
                )
            except BaseException:
                _abort(producer.connection)
                raise

    def _executing_task(self) -> Any:
        # The registered task itself, once the app is finalized, rather than the lazy proxy
        # `app.task` returns before that: one attribute lookup less on every publish.
        if not self._bound and self.app.finalized:
            self._task = self.app.tasks[TASK_NAME]
            self._bound = True
        return self._task


def publish_bound(app: Celery, settings: EventsSettings) -> float:
    """The longest `Publisher.send` (so `emit`) takes before raising `PublishError`, in seconds.

    Each of the `max_retries + 1` tries may connect (`broker_connection_timeout`), write and
    wait for the confirm (`events_publish_timeout` each); the pauses come between tries.
    """
    retries = int(PUBLISH_RETRY_POLICY["max_retries"])
    connect = float(app.conf.broker_connection_timeout or 0)
    timeout = float(settings.value("events_publish_timeout"))
    pauses = sum(_pause(retry) for retry in range(1, retries + 1))
    return (retries + 1) * (connect + 2 * timeout) + pauses


def _pause(retry: int) -> float:
    policy = PUBLISH_RETRY_POLICY
    pause = policy["interval_start"] + (retry - 1) * policy["interval_step"]
    return min(pause, policy["interval_max"])


def _abort(connection: Connection) -> None:
    """Drop a connection whose publish failed, without the close handshake.

    A blocked or hung broker never answers the handshake, so a polite close would hang. The
    reset also makes the broker's kernel discard a publish it has not read yet, so a message
    `emit` reported as not sent does not reach the queue later.
    """
    if connection.connected:
        sock = getattr(getattr(connection.connection, "transport", None), "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    connection.collect()
