"""Errors raised by events-celery, all under `events_core.errors.EventsError`.

`ConfigurationError` (a misspelled or mistyped `events_*` setting or `install` argument) is
events-core's own, so `except events_core.errors.ConfigurationError` catches every package's.
"""

from __future__ import annotations

from collections.abc import Sequence

from events_celery.reasons import Reason
from events_core.errors import ConfigurationError, EventsError

__all__ = [
    "BatchPublishError",
    "ConfigurationError",
    "DecodeError",
    "EmissionFailedError",
    "EncodeError",
    "EnvelopeError",
    "MalformedEnvelopeError",
    "PublishError",
    "SignatureError",
    "UnknownCodecError",
    "UnregisteredError",
]


class EncodeError(EventsError, TypeError):
    """Raised at emit time when a payload value cannot be carried by the codec."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"cannot encode {where}: {problem}")
        self.where = where
        self.problem = problem


class UnknownCodecError(EventsError, LookupError):
    """Raised when no body codec is registered under a name."""

    def __init__(self, name: object, known: Sequence[str]) -> None:
        listed = ", ".join(repr(item) for item in known) or "none"
        super().__init__(f"no codec is registered as {name!r} (registered: {listed})")
        self.name = name


class PublishError(EventsError):
    """Raised when the broker did not take an emission within the publish bound.

    `emission_id` is the id of the emission that was not published, when known: the broker
    may still queue a copy in rare cases (see the delivery guide), and that copy has this id.
    """

    def __init__(
        self, event: str, queue: str, cause: BaseException, emission_id: str | None = None
    ) -> None:
        super().__init__(
            f"could not publish event {event!r} to queue {queue!r}: "
            f"{type(cause).__name__}: {cause}"
        )
        self.event = event
        self.queue = queue
        self.emission_id = emission_id


class BatchPublishError(PublishError):
    """Raised by `CeleryEventEmitter.batch()` when a batch message was not published.

    `not_sent` holds the ids of the emissions that were not sent (the failed message's and
    those of the messages after it); none of them counts as emitted, and their `once`
    handlers were given back. `sent` counts the emissions of the messages published before.
    """

    def __init__(
        self, queue: str, cause: BaseException, not_sent: Sequence[str], sent: int
    ) -> None:
        EventsError.__init__(
            self,
            f"could not publish a batch to queue {queue!r}: {len(not_sent)} emission(s) were "
            f"not sent ({sent} were): {type(cause).__name__}: {cause}",
        )
        self.event = "events.batch"
        self.queue = queue
        self.emission_id = None
        self.not_sent = tuple(not_sent)
        self.sent = sent


class EnvelopeError(EventsError):
    """Raised on the worker when a message is refused before any handler runs.

    `reason` says why, as recorded with the dead letter (a `Reason`).
    """

    reason: Reason = Reason.MALFORMED

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MalformedEnvelopeError(EnvelopeError):
    """Raised when a message is not an envelope of a version this worker reads."""

    reason = Reason.MALFORMED


class SignatureError(EnvelopeError):
    """Raised when an envelope is unsigned, tampered with, or signed with an unknown key."""

    reason = Reason.SIGNATURE


class DecodeError(EnvelopeError):
    """Raised when an envelope's body cannot be decoded or names a type the worker refuses."""

    reason = Reason.UNDECODABLE


class UnregisteredError(EnvelopeError):
    """Raised when an envelope names a linker the worker has not imported."""

    reason = Reason.UNREGISTERED


class TooLargeError(EnvelopeError):
    """Raised when a message is larger than `events_max_message_bytes`."""

    reason = Reason.TOO_LARGE


class TooDeepError(EnvelopeError):
    """Raised when a message nests deeper than a worker accepts."""

    reason = Reason.TOO_DEEP


class ForeignMessageError(EnvelopeError):
    """Raised when a message on a queue of events is not an `events.execute` message."""

    reason = Reason.FOREIGN


class DeliveryLimitError(EnvelopeError):
    """Raised when an emission was delivered `events_max_deliveries` times without finishing."""

    reason = Reason.WORKER_LOST


class HandlerTimeoutError(EventsError, TimeoutError):
    """Raised inside a handler that ran past its time limit; it fails like any handler."""

    def __init__(self, handler: str, seconds: float) -> None:
        super().__init__(f"handler {handler} ran past its time limit of {seconds:g} s")
        self.handler = handler
        self.seconds = seconds

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.handler, self.seconds))


class EmissionFailedError(EventsError):
    """Raised by the worker's task when handlers failed and no retry or dead letter took them."""

    def __init__(self, event: str, emission_id: str, failures: Sequence[tuple[str, str]]) -> None:
        listed = ", ".join(f"{ref} ({reason})" for ref, reason in failures)
        super().__init__(
            f"{len(failures)} handler(s) failed for event {event!r} "
            f"(emission {emission_id}): {listed}"
        )
        self.event = event
        self.emission_id = emission_id
        self.failures = tuple(failures)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.event, self.emission_id, self.failures))
