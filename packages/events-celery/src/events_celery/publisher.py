"""`Publisher`: seals emissions into envelopes and publishes them for `events.execute`."""

from __future__ import annotations

from typing import Any

from celery import Celery

from events_celery.body import Body
from events_celery.envelope import Envelope
from events_celery.errors import EncodeError, PublishError
from events_celery.settings import EventsSettings

TASK_NAME = "events.execute"
"""Name of the task that executes emissions on workers."""

MESSAGE_OVERHEAD = 1024
"""Bytes a task message adds to its envelope's body and event name: headers, ids, the key."""

PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.0,
    "interval_step": 0.5,
    "interval_max": 1.0,
}
"""Bounded retry of a publish: after it, `emit` raises `PublishError`."""


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
        text = body.encode(codec)
        # The body travels as a JSON string inside the task message: quotes and backslashes
        # are escaped once more; the event name is repeated in the envelope, argsrepr and shadow.
        escaped = text.count('"') + text.count("\\")
        size = len(text) + escaped + 3 * len(event) + MESSAGE_OVERHEAD
        if size > self.settings.max_message_bytes:
            raise EncodeError(
                f"event {event!r}",
                f"the message would be about {size} bytes, over events_max_message_bytes "
                f"({self.settings.max_message_bytes})",
            )
        envelope = Envelope(id=emission_id, event=event, codec=codec, body=text)
        return envelope.signed_with(self.settings.keyring)

    def send(self, envelope: Envelope, queue: str, countdown: float | None = None) -> None:
        """Publish an envelope to `queue` with a bounded retry.

        Raises:
            PublishError: the broker could not be reached within the bound.
        """
        try:
            self._executing_task().apply_async(
                args=(envelope.to_message(),),
                queue=queue,
                task_id=envelope.id,
                countdown=countdown,
                shadow=envelope.event,
                argsrepr=f"({envelope.event!r}, {envelope.id!r})",
                kwargsrepr="{}",
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
        except Exception as exc:
            raise PublishError(envelope.event, queue, exc) from exc

    def _executing_task(self) -> Any:
        # The registered task itself, once the app is finalized, rather than the lazy proxy
        # `app.task` returns before that: one attribute lookup less on every publish.
        if not self._bound and self.app.finalized:
            self._task = self.app.tasks[TASK_NAME]
            self._bound = True
        return self._task
