"""What the worker says about failed handlers: one ERROR record each, and the task's error.

Each record carries the handler's exception (type, message, traceback) and, as log-record
`extra` fields, `emission_id`, `event`, `handler` and `attempt`, so that JSON formatters pick
them up. Argument values are never logged; a handler's own exception message is.
"""

from __future__ import annotations

import logging

from events_celery.addons import Failure
from events_celery.errors import EmissionFailedError
from events_celery.reasons import Reason

# The records are the task's: operators configure (and filter on) `events_celery.task`.
logger = logging.getLogger("events_celery.task")

MAX_MESSAGE = 200
"""Characters of a handler's exception message kept in `EmissionFailedError`."""


def log_failures(failure: Failure) -> None:
    """Log each failed handler of `failure` at ERROR, unregistered refs included."""
    emission = failure.emission
    for outcome in failure.report.failed:
        exc = outcome.exception
        assert exc is not None
        logger.error(
            "handler %s failed for emission %s of %s (attempt %d): %s: %s",
            outcome.handler,
            emission.id,
            emission.event,
            emission.attempt,
            type(exc).__name__,
            exc,
            exc_info=(type(exc), exc, exc.__traceback__),
            extra=_fields(failure, outcome.handler),
        )
    for ref in failure.unregistered:
        logger.error(
            "handler %s refused for emission %s of %s (attempt %d): %s on this worker",
            ref,
            emission.id,
            emission.event,
            emission.attempt,
            Reason.UNREGISTERED,
            extra={**_fields(failure, ref), "reason": str(Reason.UNREGISTERED)},
        )


def failed_error(failure: Failure) -> EmissionFailedError:
    """The task's error for `failure`, chained to the first handler exception."""
    failures = [
        (outcome.handler, _describe(outcome.exception)) for outcome in failure.report.failed
    ]
    failures.extend((ref, Reason.UNREGISTERED) for ref in failure.unregistered)
    error = EmissionFailedError(failure.emission.event, failure.emission.id, failures)
    first = next((outcome.exception for outcome in failure.report.failed), None)
    # The chain puts the handler's own frames into the traceback Celery stores and shows.
    error.__cause__ = first
    return error


def _describe(exc: BaseException | None) -> str:
    text = str(exc)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fields(failure: Failure, handler: str) -> dict[str, object]:
    emission = failure.emission
    return {
        "emission_id": emission.id,
        "event": emission.event,
        "handler": handler,
        "attempt": emission.attempt,
    }
