"""`CeleryEventEmitter`: publishes each emission for Celery workers to execute."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from time import perf_counter
from types import MappingProxyType
from typing import Any, Literal

from celery import Celery

from events_celery import batching
from events_celery.addons import Outgoing
from events_celery.batching import Batch, Pending
from events_celery.body import Body, Meta
from events_celery.bootstrap import runtime_of
from events_celery.envelope import MAX_EVENT_NAME, Envelope
from events_celery.errors import ConfigurationError, EncodeError
from events_celery.runtime import EventsRuntime
from events_core.emission import EventEmission
from events_core.emitter import EventEmitter
from events_core.errors import HandlerNotImportableError
from events_core.registry import EventLinker

_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


class CeleryEventEmitter(EventEmitter):
    """Publishes each emission as one message for the `events.execute` task.

    `emit` blocks only while the message is published (bounded retry, then
    `PublishError`); handlers run on workers, and their errors stay there: they are retried,
    dead-lettered or end the task in FAILURE, never raised from `emit`. Inside a `batch()`
    block `emit` publishes nothing: the block's end publishes every emission it collected.

    Args:
        app: the Celery app; `install(app)` is called if it was not yet.
        queue: send every emission here, whatever the routes say.
        linker: the registry handlers are resolved from (and named on the wire).
        resolve: `"emitter"` (default) resolves handlers here and sends their refs;
            `"worker"` sends the event only and lets the worker's linker pick handlers,
            so the producer needs no handler code.
    """

    def __init__(
        self,
        app: Celery,
        *,
        queue: str | None = None,
        linker: type[EventLinker] = EventLinker,
        resolve: Literal["emitter", "worker"] = "emitter",
    ) -> None:
        super().__init__(linker=linker)
        if resolve not in ("emitter", "worker"):
            raise ConfigurationError("resolve", f"expected 'emitter' or 'worker', got {resolve!r}")
        if queue is not None and (not isinstance(queue, str) or not queue.strip()):
            raise ConfigurationError("queue", f"expected a queue name, got {queue!r}")
        self.app = app
        self.queue = queue
        self.resolve = resolve
        self.resolves_handlers = resolve == "emitter"
        self.runtime: EventsRuntime = runtime_of(app)
        # The open `batch()` block of the current thread or asyncio task, if any.
        self._batch: ContextVar[Batch | None] = ContextVar(f"batch-{id(self)}", default=None)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Collect the emits made inside the block and publish them at its end.

        The emits of this thread join the block, and those of asyncio tasks it starts until
        it ends; emits of other threads, and those made after the block ended, are published
        as usual.

        The emissions go as few messages as possible: one per destination queue, up to
        `events_batch_size` emissions each. Each keeps its own id, handlers, retries and dead
        letter on the worker. A block inside another joins the outer one.

        Raises:
            BatchPublishError: a message was not published; its emissions (and those of
                later messages) were not sent and their `once` handlers were given back.
        """
        if self._batch.get() is not None:
            yield
            return
        collected = Batch()
        token = self._batch.set(collected)
        try:
            yield
        except BaseException as exc:
            self._batch.reset(token)
            collected.closed = True
            pending = [one for queue in collected.queues.values() for one in queue]
            batching.abandon(pending, self.runtime, self.linker, exc)
            raise
        self._batch.reset(token)
        batching.publish(collected, self.runtime, self.linker)

    def emit_many(self, events: Iterable[Any]) -> list[EventEmission | None]:
        """Emit each event object of `events` (no extra arguments) in one `batch()`.

        Returns:
            What `emit` returned for each event, in order.

        Raises:
            BatchPublishError: as `batch()` does; nothing counts as emitted then.
        """
        with self.batch():
            return [self.emit(event) for event in events]

    def dispatch(self, emission: EventEmission) -> None:
        """Seal `emission` in an envelope and publish it to its queue.

        Raises:
            HandlerNotImportableError: a handler cannot be named on the wire.
            EncodeError: the event name or a payload value cannot be carried.
            PublishError: the broker did not take the message in time.
        """
        if len(emission.event) > MAX_EVENT_NAME:
            raise EncodeError(
                "the event name", f"longer than {MAX_EVENT_NAME} characters, which workers refuse"
            )
        refs: tuple[str, ...] | None = None
        if self.resolves_handlers:
            for handler in emission.handlers:
                if not handler.importable:
                    raise HandlerNotImportableError(handler.ref)
            refs = tuple(handler.ref for handler in emission.handlers)
        runtime = self.runtime
        queue = self.queue
        extra: Mapping[str, Any] = _NO_EXTRA
        outgoing: Outgoing | None = None
        if not runtime.addons.publishes_plainly:
            outgoing = Outgoing(emission, queue, fixed=queue is not None)
            runtime.addons.before_publish(outgoing)
            queue, extra = outgoing.queue, outgoing.meta
        if queue is None:
            queue = runtime.settings.default_queue
        body = Body(
            kind=emission.kind,
            linker=self.linker.path(),
            handlers=refs,
            timestamp=emission.created,
            headers=emission.headers,
            meta=Meta(attempt=emission.attempt, queue=queue, extra=extra),
            args=emission.args,
            kwargs=emission.kwargs,
        )
        collected = self._batch.get()
        if collected is not None and not collected.closed:
            self._collect(collected, emission, queue, body, outgoing)
            return
        if outgoing is None:
            self.deliver(runtime.publisher.seal(emission.id, emission.event, body), queue)
            return
        outgoing.queue = queue
        started = perf_counter()
        try:
            self.deliver(runtime.publisher.seal(emission.id, emission.event, body), queue)
        except BaseException as exc:
            runtime.addons.after_publish(outgoing, perf_counter() - started, exc)
            raise
        runtime.addons.after_publish(outgoing, perf_counter() - started, None)

    def deliver(self, envelope: Envelope, queue: str) -> None:
        """Hand on a sealed envelope: publish it to `queue`.

        The one step after sealing; a subclass may store the envelope instead (the outbox
        of events-contrib does), keeping the sealing, routing and add-on hooks of `dispatch`.

        Raises:
            PublishError: the broker did not take the message in time.
        """
        self.runtime.publisher.send(envelope, queue)

    def _collect(
        self,
        collected: Batch,
        emission: EventEmission,
        queue: str,
        body: Body,
        outgoing: Outgoing | None,
    ) -> None:
        if outgoing is not None:
            outgoing.queue = queue
        try:
            item, size = self.runtime.publisher.batch_item(emission.id, emission.event, body)
        except BaseException as exc:
            if outgoing is not None:
                self.runtime.addons.after_publish(outgoing, 0.0, exc)
            raise
        collected.add(queue, Pending(emission, item, size, outgoing))
