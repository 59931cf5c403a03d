"""`Batch`: the emissions a `CeleryEventEmitter.batch()` block collects, and their publishing.

Emissions are grouped by destination queue, in the order they were emitted, and published as
few messages as possible: up to `events_batch_size` emissions each, under
`events_max_message_bytes`. Each emission still went through `before_publish` when it was
emitted, and goes through `after_publish` when its message was published or not.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from time import perf_counter

from events_celery.addons import Outgoing
from events_celery.errors import BatchPublishError, PublishError
from events_celery.publisher import BATCH_BASE_BYTES
from events_celery.runtime import EventsRuntime
from events_core.emission import EventEmission
from events_core.registry import EventLinker


@dataclass(frozen=True)
class Pending:
    """One emission of a batch, encoded and waiting for its message."""

    emission: EventEmission
    item: str
    size: int
    outgoing: Outgoing | None


@dataclass
class Batch:
    """The emissions collected by one `batch()` block, by queue in emit order."""

    queues: dict[str, list[Pending]] = field(default_factory=dict)
    closed: bool = False
    """Set when the block ended: a task it started that emits later publishes as usual."""

    def add(self, queue: str, pending: Pending) -> None:
        """Collect an emission for `queue`."""
        self.queues.setdefault(queue, []).append(pending)

    def __len__(self) -> int:
        return sum(len(pending) for pending in self.queues.values())

    def messages(self, batch_size: int, max_bytes: int) -> list[tuple[str, list[Pending]]]:
        """Split the emissions into (queue, emissions) messages, in order."""
        messages: list[tuple[str, list[Pending]]] = []
        budget = max_bytes - BATCH_BASE_BYTES
        for queue, pending in self.queues.items():
            chunk: list[Pending] = []
            size = 0
            for one in pending:
                if chunk and (len(chunk) >= batch_size or size + one.size > budget):
                    messages.append((queue, chunk))
                    chunk, size = [], 0
                chunk.append(one)
                size += one.size
            if chunk:
                messages.append((queue, chunk))
        return messages


def publish(batch: Batch, runtime: EventsRuntime, linker: type[EventLinker]) -> None:
    """Publish a batch's messages in order; stop at the first that fails.

    Raises:
        BatchPublishError: a message was not published; its emissions and those of the
            messages after it were not sent, and their `once` handlers are given back.
    """
    batch.closed = True
    settings = runtime.settings
    messages = batch.messages(settings.value("events_batch_size"), settings.max_message_bytes)
    publisher = runtime.publisher
    addons = runtime.addons
    sent = 0
    for index, (queue, pending) in enumerate(messages):
        started = perf_counter()
        try:
            envelope = publisher.seal_batch(uuid.uuid4().hex, [one.item for one in pending])
            publisher.send(envelope, queue)
        except PublishError as exc:
            rest = [one for _, later in messages[index:] for one in later]
            abandon(rest, runtime, linker, exc, perf_counter() - started)
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            raise BatchPublishError(
                queue, cause, [one.emission.id for one in rest], sent
            ) from cause
        except BaseException as exc:
            rest = [one for _, later in messages[index:] for one in later]
            abandon(rest, runtime, linker, exc, perf_counter() - started)
            raise
        sent += len(pending)
        seconds = perf_counter() - started
        for one in pending:
            if one.outgoing is not None:
                addons.after_publish(one.outgoing, seconds, None)


def abandon(
    pending: list[Pending],
    runtime: EventsRuntime,
    linker: type[EventLinker],
    error: BaseException,
    seconds: float = 0.0,
) -> None:
    """Give back the `once` handlers of emissions that were not sent, and tell the add-ons."""
    linker.give_back(
        handler for one in pending for handler in one.emission.handlers if handler.once
    )
    for one in pending:
        if one.outgoing is not None:
            runtime.addons.after_publish(one.outgoing, seconds, error)
