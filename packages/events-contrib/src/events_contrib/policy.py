"""`ContribFailurePolicy`: retries failed handlers, and dead-letters what is out of attempts.

`ContribAddon` hands it every failed or refused emission. A retry publishes the failed
handlers only, as a new delivery of the same emission (same id, attempt + 1) to the queue it
came from, with a countdown from the backoff; handlers that succeeded never run again.
"""

from __future__ import annotations

import base64
import logging
import time
import traceback
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from events_celery.addons import Failure, Outcome, Rejection
from events_celery.body import Body, Meta
from events_celery.reasons import Reason
from events_celery.runtime import EventsRuntime
from events_contrib.deadletter import DeadLetterQueue, HandlerFailure, new_dead_letter
from events_contrib.retry import policy_for
from events_contrib.settings import ContribSettings
from events_core.report import HandlerOutcome

logger = logging.getLogger(__name__)


@dataclass
class ContribFailurePolicy:
    """The failure policy events-contrib installs on an app's runtime."""

    runtime: EventsRuntime
    settings: ContribSettings

    @cached_property
    def dead_letters(self) -> DeadLetterQueue | None:
        """The dead-letter queue, when one is configured (made once, on first failure)."""
        if self.settings.dead_letter_queue is None:
            return None
        return DeadLetterQueue(self.runtime.app, self.settings.dead_letter_queue)

    def on_failure(self, failure: Failure) -> Outcome | None:
        """Retry what may be retried, dead-letter the rest; see the module docstring."""
        emission = failure.emission
        handlers = {handler.ref: handler for handler in emission.handlers}
        event = emission.args[0] if emission.kind == "class" and emission.args else emission.event
        retry: list[str] = []
        delay = 0.0
        dead: list[HandlerFailure] = []
        for outcome in failure.report.failed:
            handler = handlers[outcome.handler]
            policy = policy_for(handler.options, event, self.settings.retry)
            assert outcome.exception is not None
            if policy is not None and policy.should_retry(emission.attempt, outcome.exception):
                retry.append(outcome.handler)
                delay = max(delay, policy.delay(emission.attempt))
            else:
                dead.append(_handler_failure(outcome))
        dead.extend(
            HandlerFailure(ref, Reason.UNREGISTERED, "", "not registered for this event here", "")
            for ref in failure.unregistered
        )
        first_failure = failure.body.meta.first_failure or time.time()
        if dead:
            queue = self.dead_letters
            if queue is None:
                if retry:
                    self._retry(failure, retry, delay, first_failure)
                return None
            reason = (
                Reason.UNREGISTERED
                if all(item.reason == Reason.UNREGISTERED for item in dead)
                else Reason.FAILED
            )
            queue.add(
                new_dead_letter(
                    emission_id=emission.id,
                    event=emission.event,
                    reason=reason,
                    queue=failure.body.meta.queue,
                    attempts=emission.attempt,
                    first_failure=first_failure,
                    failures=dead,
                    envelope=failure.envelope.to_message(),
                    detail=", ".join(f"{item.handler} ({item.exception_type})" for item in dead),
                )
            )
            logger.warning(
                "emission %s of %s dead-lettered to %s after %d attempt(s): %s",
                emission.id,
                emission.event,
                queue.name,
                emission.attempt,
                ", ".join(
                    f"{item.handler} ({item.exception_type or item.reason})" for item in dead
                ),
            )
            failure.fates.update(dict.fromkeys(_refs(dead), Outcome.DEAD_LETTERED))
            if not retry:
                return Outcome.DEAD_LETTERED
        self._retry(failure, retry, delay, first_failure)
        return Outcome.RETRIED

    def on_rejection(self, rejection: Rejection) -> bool:
        """Dead-letter a message the worker refused, with its reason."""
        queue = self.dead_letters
        if queue is None:
            return False
        message = rejection.message
        if isinstance(message, dict):
            envelope: dict[str, Any] = message
        elif rejection.raw is not None:
            envelope = {"raw": base64.b64encode(rejection.raw).decode("ascii")}
        else:
            envelope = {"raw": repr(message)[:2000]}
        emission_id = envelope.get("id") if isinstance(envelope.get("id"), str) else ""
        event = envelope.get("event") if isinstance(envelope.get("event"), str) else ""
        queue.add(
            new_dead_letter(
                emission_id=str(emission_id)[:64],
                event=str(event)[:1024],
                reason=rejection.error.reason,
                queue=rejection.queue,
                attempts=rejection.deliveries,
                first_failure=None,
                envelope=envelope,
                detail=str(rejection.error),
            )
        )
        logger.warning(
            "message %s refused (%s) and dead-lettered to %s; not executed",
            rejection.id or "(no id)",
            rejection.error.reason,
            queue.name,
        )
        return True

    def _retry(
        self, failure: Failure, refs: list[str], delay: float, first_failure: float
    ) -> None:
        """Publish the failed handlers again as the emission's next attempt."""
        body = failure.body
        queue = body.meta.queue or self.runtime.settings.default_queue
        retried = Body(
            kind=body.kind,
            linker=body.linker,
            handlers=tuple(refs),
            timestamp=body.timestamp,
            headers=body.headers,
            meta=Meta(
                attempt=failure.emission.attempt + 1,
                queue=queue,
                first_failure=first_failure,
                extra=body.meta.extra,
            ),
            args=body.args,
            kwargs=body.kwargs,
        )
        publisher = self.runtime.publisher
        envelope = publisher.seal(failure.emission.id, failure.emission.event, retried)
        publisher.send(envelope, queue, countdown=delay)
        failure.fates.update(dict.fromkeys(refs, Outcome.RETRIED))
        logger.info(
            "emission %s of %s: retrying %s in %.1f s (attempt %d)",
            failure.emission.id,
            failure.emission.event,
            ", ".join(refs),
            delay,
            failure.emission.attempt + 1,
        )


def _refs(failures: list[HandlerFailure]) -> list[str]:
    return [item.handler for item in failures]


def _handler_failure(outcome: HandlerOutcome) -> HandlerFailure:
    exc = outcome.exception
    assert exc is not None
    return HandlerFailure(
        handler=outcome.handler,
        reason=Reason.FAILED,
        exception_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
        message=str(exc),
        traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    )
