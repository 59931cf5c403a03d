"""`GuardStep`: the worker consumer's bootstep that guards queues of events.

In the worker's main process, before Celery reads a message's headers or hands it to the
pool, every message on a queue of events goes through `MessageGuard`: one that is not a
well-formed `events.execute` message is refused there and dead-lettered (raw bytes kept,
capped). A redelivered message is counted (see `events_celery.deliveries`): past
`events_max_deliveries` it is dead-lettered with reason `worker_lost` instead of running
again. On Redis, items kombu cannot read are set aside too (see `events_celery.redisread`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import bootsteps

from events_celery.addons import MAX_RAW_BYTES, Rejection
from events_celery.deliveries import deliveries, not_started, redelivered, republish
from events_celery.errors import DecodeError, DeliveryLimitError, EnvelopeError, PublishError
from events_celery.guard import MessageGuard, message_queue, raw_body
from events_celery.loops import mark_consumer_thread
from events_celery.redisread import SCHEMES, TRANSPORT, Channel, Transport
from events_celery.runtime import EventsRuntime, attached_runtime

logger = logging.getLogger(__name__)

OnMessage = Callable[[Any], Any]


class GuardStep(bootsteps.StartStopStep):  # type: ignore[misc]  # celery has no type hints
    """Consumer bootstep: guard the task handler and, on Redis, the channel's reader."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        create = parent.create_task_handler

        def create_task_handler(*args: Any, **kw: Any) -> OnMessage:
            return guarded(parent, create(*args, **kw))

        parent.create_task_handler = create_task_handler
        conf = parent.app.conf
        url = str(conf.broker_read_url or conf.broker_url or "")
        if not conf.broker_transport and url.partition("://")[0] in SCHEMES:
            conf.broker_transport = TRANSPORT

    def start(self, parent: Any) -> None:
        """Set aside unreadable items of the Redis channel the task consumer reads."""
        mark_consumer_thread()
        if not isinstance(parent.connection.transport, Transport):
            # Asking another transport for its default channel opens a second channel on
            # the consumer's connection, and py-amqp then stalls a solo worker for seconds.
            return
        runtime = attached_runtime(parent.app)
        channel = parent.connection.default_channel
        if isinstance(channel, Channel):
            channel.on_garbage = lambda queue, raw: _set_aside(runtime, queue, raw)


def message_guard(runtime: EventsRuntime) -> MessageGuard:
    """The guard of an app's queues of events, from its settings and add-ons."""
    settings = runtime.settings
    return MessageGuard(
        queues=frozenset({settings.default_queue}) | runtime.addons.destinations(),
        max_bytes=settings.value("events_max_message_bytes"),
        accept_tasks=settings.value("events_accept_tasks"),
    )


def guarded(consumer: Any, on_message: OnMessage) -> OnMessage:
    """Wrap Celery's task message handler with the guard and the delivery limit."""
    runtime = attached_runtime(consumer.app)
    guard = message_guard(runtime)
    limit: int = runtime.settings.value("events_max_deliveries")
    errors = consumer.connection_errors

    def on_task_message(message: Any) -> Any:
        if not guard.covers(message):
            return on_message(message)
        try:
            envelope = guard.check(message)
        except EnvelopeError as exc:
            return _refuse(runtime, message, exc, None, errors)
        except Exception:  # a fault of the guard itself must not stop consuming
            logger.exception("events guard failed on a message; left to Celery")
            return on_message(message)
        if envelope is None or not redelivered(message) or not_started(message):
            return on_message(message)
        count = deliveries(message)
        if count > limit:
            error = DeliveryLimitError(
                f"delivered {count - 1} times without finishing (events_max_deliveries="
                f"{limit}): its worker process died or was killed each time"
            )
            return _refuse(runtime, message, error, envelope, errors, count - 1)
        try:
            republish(runtime.app, message, count)
        except Exception as exc:  # the broker: leave the delivery to the broker, as it is
            logger.error(
                "emission %s: could not requeue redelivery %d at the tail (%s); running it",
                envelope["id"],
                count,
                type(exc).__name__,
            )
            return on_message(message)
        logger.warning(
            "emission %s of %s redelivered (delivery %d of at most %d); requeued at the tail",
            envelope["id"],
            envelope["event"],
            count,
            limit,
        )
        message.ack_log_error(logger, errors)
        return None

    return on_task_message


def _refuse(
    runtime: EventsRuntime,
    message: Any,
    error: EnvelopeError,
    envelope: dict[str, Any] | None,
    errors: Any,
    count: int = 1,
) -> None:
    headers = message.headers if isinstance(message.headers, dict) else {}
    task_id = headers.get("id")
    rejection = Rejection(
        runtime.task,
        envelope,
        error,
        message_queue(message),
        raw=None if envelope is not None else raw_body(message)[:MAX_RAW_BYTES],
        delivery_id=str(task_id)[:255] if isinstance(task_id, str) else "",
        deliveries=count,
    )
    if not _offer(runtime, rejection):
        message.reject_log_error(logger, errors, requeue=True)
        return
    message.reject_log_error(logger, errors, requeue=False)


def _set_aside(runtime: EventsRuntime, queue: str, raw: bytes) -> bool:
    error = DecodeError(f"an item of {len(raw)} bytes on the Redis list is not a kombu message")
    return _offer(runtime, Rejection(runtime.task, None, error, queue, raw=raw[:MAX_RAW_BYTES]))


def _offer(runtime: EventsRuntime, rejection: Rejection) -> bool:
    """Hand a refusal to the add-ons; False if it must be requeued (dead letter failed)."""
    addons = runtime.addons
    try:
        taken = addons.on_rejection(rejection)
    except Exception as exc:
        addons.after_rejection(rejection, False)
        cause = exc.__cause__ if isinstance(exc, PublishError) else exc
        logger.error(
            "message %s refused (%s) and could not be dead-lettered (%s); requeued",
            rejection.id or "(no id)",
            rejection.reason,
            type(cause if cause is not None else exc).__name__,
        )
        return False
    addons.after_rejection(rejection, taken)
    if not taken:
        logger.error(
            "message %s on %s refused (%s): %s; not executed and dropped: no dead-letter queue",
            rejection.id or "(no id)",
            rejection.queue,
            rejection.reason,
            rejection.error,
        )
    return True
