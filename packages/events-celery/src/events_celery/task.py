"""The `events.execute` task: verify, decode and run one emission on a worker.

Order matters for safety: the envelope's shape is checked, then its signature, and only then
is its body decoded, its linker looked up and its classes rebuilt (through the linker's type
policy, never by importing). A refused message is never executed: it is dead-lettered when an
add-on takes it, else logged, and always rejected without requeue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from celery import Celery, Task
from celery.exceptions import Reject, Retry

from events_celery.addons import Delivery, Failure, Outcome, Rejection
from events_celery.body import Body, decode_body, read_frame
from events_celery.envelope import Envelope
from events_celery.errors import (
    DecodeError,
    EmissionFailedError,
    EnvelopeError,
    PublishError,
    UnregisteredError,
)
from events_celery.publisher import TASK_NAME
from events_celery.reasons import Reason
from events_celery.runtime import attached_runtime
from events_celery.timelimit import limited
from events_celery.trust import LinkerTypes
from events_core.emission import EventEmission
from events_core.events import class_path
from events_core.handler import EventHandler
from events_core.registry import EventLinker, find_linker

logger = logging.getLogger(__name__)

_loops = threading.local()
_resolvers: dict[type[EventLinker], LinkerTypes] = {}


def worker_loop() -> asyncio.AbstractEventLoop:
    """The event loop of this worker process (of this thread, with a threads pool).

    Made once and reused for every message, never one `asyncio.run` per message.
    """
    loop: asyncio.AbstractEventLoop | None = getattr(_loops, "loop", None)
    if loop is None or getattr(_loops, "pid", None) != os.getpid() or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loops.loop, _loops.pid = loop, os.getpid()
    return loop


def register_task(app: Celery) -> Any:
    """Register `events.execute` on `app` and return it."""

    def execute(self: Task, *args: object, **kwargs: object) -> dict[str, Any]:
        """Run one emission's handlers; see the module docstring."""
        if len(args) != 1 or kwargs:
            # Not our message shape: refuse it like any malformed envelope.
            return _execute(self, {"args": list(args), "kwargs": kwargs})
        return _execute(self, args[0])

    return app.task(
        name=TASK_NAME,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        # A child killed by the hard time limit is requeued (and counted as a delivery),
        # never acknowledged into nothing; failures are acknowledged as before.
        acks_on_timeout=False,
        acks_on_failure=True,
        acks_on_failure_or_timeout=False,
        max_retries=None,
        serializer="json",
        typing=False,
        shared=False,
    )(execute)


def _execute(task: Task, message: object) -> dict[str, Any]:
    runtime = attached_runtime(task.app)
    queue = _delivery_queue(task)
    try:
        envelope = Envelope.parse(message)
        envelope.verify(runtime.settings.keyring)
        if envelope.codec == "pickle" and runtime.settings.serializer != "pickle":
            raise DecodeError("the pickle codec is not enabled on this worker")
        body, emission, unregistered = _decode(
            envelope, runtime.settings.value("events_handler_time_limit")
        )
    except EnvelopeError as exc:
        _reject(task, message, exc, queue)
    addons = runtime.addons
    delivery = Delivery(task, envelope, body, emission, unregistered)
    addons.before_run(delivery)
    if emission.runs_inline:
        report = emission.run()
    else:
        report = worker_loop().run_until_complete(emission.arun())
    addons.after_run(delivery, report)
    if report.ok and not unregistered:
        logger.debug("emission %s of %s executed", emission.id, emission.event)
        return {"event": emission.event, "id": emission.id, "handlers": len(report.outcomes)}
    failure = Failure(task, envelope, body, emission, report, unregistered)
    error = _failed_error(failure)
    try:
        outcome = addons.on_failure(failure)
    except PublishError as exc:
        logger.error(
            "emission %s of %s: could not retry or dead-letter (%s); requeued",
            emission.id,
            emission.event,
            type(exc.__cause__).__name__,
        )
        raise Reject(exc, requeue=True) from exc
    if outcome is Outcome.DEAD_LETTERED:
        raise Reject(error, requeue=False)
    if outcome is Outcome.RETRIED:
        raise Retry(exc=error)
    logger.error("emission %s of %s failed: %s", emission.id, emission.event, error)
    raise error


def _decode(envelope: Envelope, time_limit: float) -> tuple[Body, EventEmission, tuple[str, ...]]:
    linker_path = read_frame(envelope.body)["linker"]
    linker = find_linker(linker_path)
    if linker is None:
        raise UnregisteredError(f"linker {linker_path!r} is not imported on this worker")
    resolver = _resolvers.get(linker)
    if resolver is None:
        resolver = _resolvers[linker] = LinkerTypes(linker)
    body = decode_body(envelope.body, envelope.codec, resolver)
    if body.kind == "class":
        if not body.args or class_path(type(body.args[0])) != envelope.event:
            raise DecodeError("a class event's first argument must be an instance of that class")
        handlers = linker.handlers_for(body.args[0])
    else:
        handlers = linker.handlers_for(envelope.event)
    selected, unregistered = _select(handlers, body.handlers)
    if not selected and not unregistered:
        raise UnregisteredError(
            f"no handler for event {envelope.event!r} in {linker_path} on this worker"
        )
    emission = EventEmission(
        envelope.event,
        body.args,
        body.kwargs,
        limited(selected, time_limit),
        id=envelope.id,
        timestamp=body.timestamp,
        attempt=body.meta.attempt,
        headers=body.headers,
        kind="class" if body.kind == "class" else "name",
    )
    return body, emission, unregistered


def _select(
    handlers: tuple[EventHandler, ...], refs: tuple[str, ...] | None
) -> tuple[tuple[EventHandler, ...], tuple[str, ...]]:
    """Pick the handlers the message names, in the worker's order; list refs it lacks."""
    if refs is None:
        return handlers, ()
    wanted = set(refs)
    selected = tuple(handler for handler in handlers if handler.ref in wanted)
    known = {handler.ref for handler in selected}
    return selected, tuple(dict.fromkeys(ref for ref in refs if ref not in known))


def _failed_error(failure: Failure) -> EmissionFailedError:
    failures = [
        (outcome.handler, type(outcome.exception).__name__) for outcome in failure.report.failed
    ]
    failures.extend((ref, Reason.UNREGISTERED) for ref in failure.unregistered)
    return EmissionFailedError(failure.emission.event, failure.emission.id, failures)


def _reject(task: Task, message: object, error: EnvelopeError, queue: str) -> Any:
    addons = attached_runtime(task.app).addons
    try:
        taken = addons.on_rejection(Rejection(task, message, error, queue))
    except PublishError as exc:
        logger.error(
            "message %s refused (%s) and could not be dead-lettered; requeued",
            task.request.id,
            error.reason,
        )
        raise Reject(exc, requeue=True) from exc
    if not taken:
        logger.error(
            "message %s refused (%s): %s; not executed", task.request.id, error.reason, error
        )
    raise Reject(f"{error.reason}: {error}", requeue=False)


def _delivery_queue(task: Task) -> str:
    info = task.request.delivery_info or {}
    queue = info.get("routing_key") or info.get("queue") or ""
    return str(queue)
