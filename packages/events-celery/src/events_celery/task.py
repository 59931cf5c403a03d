"""The `events.execute` task: verify, decode and run one emission on a worker.

Order matters for safety: the envelope's shape is checked, then its signature, and only then
is its body decoded, its linker looked up and its classes rebuilt (through the linker's type
policy, never by importing). A refused message is never executed: it is dead-lettered when an
add-on takes it, else logged, and always rejected without requeue.

A batch (envelope version 2) is verified whole, then each of its emissions is decoded, run
and, when a handler failed, retried or dead-lettered on its own, in the batch's order; the
async handlers of the batch share one run of the worker's event loop.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from celery.exceptions import Reject, Retry

from events_celery.addons import AddonChain, Delivery, Failure, Outcome, Rejection
from events_celery.batchwire import BatchItem, read_items
from events_celery.body import Body, decode_frame, read_frame
from events_celery.envelope import Envelope
from events_celery.errors import (
    DecodeError,
    EmissionFailedError,
    EnvelopeError,
    PublishError,
    UnregisteredError,
)
from events_celery.failures import failed_error, log_failures
from events_celery.loops import run_async
from events_celery.publisher import TASK_NAME
from events_celery.runtime import EventsRuntime, attached_runtime
from events_celery.timelimit import limited
from events_celery.trust import LinkerTypes
from events_core.emission import EventEmission
from events_core.events import class_path
from events_core.registry import EventLinker, Selection, find_linker
from events_core.report import EmissionReport

logger = logging.getLogger(__name__)

_resolvers: dict[type[EventLinker], LinkerTypes] = {}


def register_task(app: Celery) -> Any:
    """Register `events.execute` on `app` and return it."""

    def execute(self: Task, *args: object, **kwargs: object) -> int:
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


def _execute(task: Task, message: object) -> int:
    runtime = attached_runtime(task.app)
    queue = _delivery_queue(task)
    try:
        envelope = Envelope.parse(message)
        envelope.verify(runtime.settings.keyring)
        if not runtime.settings.accepts(envelope.codec):
            raise DecodeError(f"the {envelope.codec} codec is not enabled on this worker")
        if envelope.is_batch:
            items = read_items(envelope.body)
        else:
            body, emission, unregistered = _decode(
                envelope, runtime.settings.value("events_handler_time_limit")
            )
    except EnvelopeError as exc:
        _reject(task, message, exc, queue)
    if envelope.is_batch:
        return _execute_batch(task, runtime, envelope, items, queue)
    addons = runtime.addons
    delivery = Delivery(task, envelope, body, emission, unregistered)
    report = _run(addons, delivery)
    if report.ok and not unregistered:
        logger.debug("emission %s of %s executed", emission.id, emission.event)
        # A number: Celery formats the result for its success log line on every run.
        return len(report.outcomes)
    outcome, error = _settle(addons, delivery, report, "requeued")
    if outcome is Outcome.DEAD_LETTERED:
        raise Reject(error, requeue=False)
    if outcome is Outcome.RETRIED:
        raise Retry(exc=error)
    logger.error("emission %s of %s failed: %s", emission.id, emission.event, error)
    raise error from error.__cause__


def _execute_batch(
    task: Task, runtime: EventsRuntime, batch: Envelope, items: tuple[BatchItem, ...], queue: str
) -> int:
    """Run a verified batch's emissions in order, each failing one retried on its own."""
    keyring = runtime.settings.keyring
    time_limit = runtime.settings.value("events_handler_time_limit")
    deliveries: list[Delivery] = []
    for item in items:
        # Each emission gets the envelope a single message of it would have had, signed
        # with this worker's key, for its retry and its dead letter (which replay verifies).
        envelope = Envelope(item.id, item.event, batch.codec, item.body).signed_with(keyring)
        try:
            body, emission, unregistered = _decode(envelope, time_limit)
        except EnvelopeError as exc:
            # Before anything runs: requeueing the batch if this cannot be dead-lettered
            # runs nothing twice.
            _refuse(task, envelope.to_message(), exc, queue)
            continue
        deliveries.append(Delivery(task, envelope, body, emission, unregistered))
    addons = runtime.addons
    if all(delivery.emission.runs_inline for delivery in deliveries):
        reports = [_run(addons, delivery) for delivery in deliveries]
    else:
        reports = run_async(_run_in_loop(addons, deliveries))
    failed: list[EmissionFailedError] = []
    for delivery, report in zip(deliveries, reports, strict=True):
        if report.ok and not delivery.unregistered:
            continue
        outcome, error = _settle(addons, delivery, report, f"batch {batch.id} requeued")
        if outcome is None:
            emission = delivery.emission
            logger.error("emission %s of %s failed: %s", emission.id, emission.event, error)
            failed.append(error)
    if failed:
        raise failed[0] from failed[0].__cause__
    logger.debug("batch %s of %d emissions executed", batch.id, len(items))
    return len(deliveries)


def _run(addons: AddonChain, delivery: Delivery) -> EmissionReport:
    """Run one emission between the add-ons' `before_run` and `after_run`."""
    addons.before_run(delivery)
    emission = delivery.emission
    report = emission.run() if emission.runs_inline else run_async(emission.arun())
    addons.after_run(delivery, report)
    return report


def _settle(
    addons: AddonChain, delivery: Delivery, report: EmissionReport, requeued: str
) -> tuple[Outcome | None, EmissionFailedError]:
    """Log a failed emission and let the add-ons retry or dead-letter it.

    Raises:
        Reject: the add-ons could not (the broker, a bug in one): the message is requeued
            (`requeued` says what, in the log), so nothing is lost.
    """
    emission = delivery.emission
    failure = Failure(
        delivery.task, delivery.envelope, delivery.body, emission, report, delivery.unregistered
    )
    log_failures(failure)
    error = failed_error(failure)
    try:
        outcome = addons.on_failure(failure)
    except Exception as exc:
        addons.after_failure(failure, Outcome.REQUEUED)
        logger.error(
            "emission %s of %s: could not retry or dead-letter (%s); %s",
            emission.id,
            emission.event,
            _cause_name(exc),
            requeued,
        )
        raise Reject(exc, requeue=True) from exc
    addons.after_failure(failure, outcome)
    return outcome, error


async def _run_in_loop(addons: AddonChain, deliveries: list[Delivery]) -> list[EmissionReport]:
    reports: list[EmissionReport] = []
    for delivery in deliveries:
        addons.before_run(delivery)
        emission = delivery.emission
        report = emission.run() if emission.runs_inline else await emission.arun()
        addons.after_run(delivery, report)
        reports.append(report)
    return reports


def _decode(envelope: Envelope, time_limit: float) -> tuple[Body, EventEmission, tuple[str, ...]]:
    frame = read_frame(envelope.body)
    linker_path = frame["linker"]
    linker = find_linker(linker_path)
    if linker is None:
        raise UnregisteredError(f"linker {linker_path!r} is not imported on this worker")
    resolver = _resolvers.get(linker)
    if resolver is None:
        resolver = _resolvers[linker] = LinkerTypes(linker)
    body = decode_frame(frame, envelope.codec, resolver)
    event: object = envelope.event
    if body.kind == "class":
        if not body.args or class_path(type(body.args[0])) != envelope.event:
            raise DecodeError("a class event's first argument must be an instance of that class")
        event = body.args[0]
    selected, unregistered = _select(linker, event, body.handlers)
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


def _select(linker: type[EventLinker], event: object, refs: tuple[str, ...] | None) -> Selection:
    """Pick the handlers the message names, in the worker's order, and list refs it lacks.

    A message naming no handler (`resolve="worker"`) gets the worker's handlers, taken as an
    emitter takes them, so a `once` handler runs once per worker process.
    """
    if refs is None:
        return Selection(linker.lend(event if type(event) is str else type(event)).handlers, ())
    return linker.handlers_named(event, refs)


def _reject(task: Task, message: object, error: EnvelopeError, queue: str) -> Any:
    _refuse(task, message, error, queue)
    raise Reject(f"{error.reason}: {error}", requeue=False)


def _refuse(task: Task, message: object, error: EnvelopeError, queue: str) -> None:
    """Dead-letter (or log) a refused message; requeue the delivery when that fails."""
    addons = attached_runtime(task.app).addons
    rejection = Rejection(task, message, error, queue)
    try:
        taken = addons.on_rejection(rejection)
    except Exception as exc:
        addons.after_rejection(rejection, False)
        logger.error(
            "message %s refused (%s) and could not be dead-lettered (%s); requeued",
            task.request.id,
            error.reason,
            _cause_name(exc),
        )
        raise Reject(exc, requeue=True) from exc
    addons.after_rejection(rejection, taken)
    if not taken:
        logger.error(
            "message %s refused (%s): %s; not executed",
            task.request.id,
            error.reason,
            error,
            extra={"emission_id": task.request.id, "reason": str(error.reason)},
        )


def _cause_name(exc: Exception) -> str:
    """The type name of what went wrong: a `PublishError`'s cause, else the error itself."""
    cause = exc.__cause__ if isinstance(exc, PublishError) else exc
    return type(cause if cause is not None else exc).__name__


def _delivery_queue(task: Task) -> str:
    info = task.request.delivery_info or {}
    queue = info.get("routing_key") or info.get("queue") or ""
    return str(queue)
