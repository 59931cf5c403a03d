"""Errors raised by events-contrib, all under `events_core.errors.EventsError`."""

from __future__ import annotations

from events_celery.errors import ConfigurationError
from events_core.errors import EventsError

__all__ = [
    "ConfigurationError",
    "DeadLetterNotFoundError",
    "DeadLetterQueueBusyError",
    "InvalidDeadLetterError",
    "UnknownQueueError",
]


class UnknownQueueError(ConfigurationError, LookupError):
    """Raised when a route names a queue that is not configured."""

    def __init__(self, event: str, queue: str) -> None:
        super().__init__(
            "events_routes",
            f"event {event!r} routes to queue {queue!r}, which is not in task_queues "
            f"(add it, or leave task_create_missing_queues on)",
        )
        self.event = event
        self.queue = queue


class DeadLetterNotFoundError(EventsError, LookupError):
    """Raised when a dead letter id is not in the dead-letter queue."""

    def __init__(self, letter_id: str, queue: str) -> None:
        super().__init__(f"no dead letter {letter_id!r} in {queue!r}")
        self.letter_id = letter_id
        self.queue = queue


class InvalidDeadLetterError(EventsError, ValueError):
    """Raised when a dead letter (or a message in its queue) cannot be read or replayed."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class DeadLetterQueueBusyError(EventsError):
    """Raised when other readers of a dead-letter queue held it past the wait allowed."""

    def __init__(self, lock: str, timeout: float) -> None:
        super().__init__(
            f"the dead-letter queue is busy: another reader held {lock!r} for more than "
            f"{timeout:g} s"
        )
        self.lock = lock
        self.timeout = timeout
