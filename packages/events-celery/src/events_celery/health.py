"""`check_health`: whether a worker consuming an events queue answers, for container probes."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery

from events_celery.bootstrap import runtime_of


@dataclass(frozen=True)
class Health:
    """What a health check found.

    Attributes:
        queue: the queue that was asked about.
        nodes: the workers that answered and consume `queue`, sorted.
        answered: every worker that answered, whatever it consumes.
    """

    queue: str
    nodes: tuple[str, ...]
    answered: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether at least one answering worker consumes the queue."""
        return bool(self.nodes)

    @property
    def reason(self) -> str:
        """One line saying why the check failed (empty when it passed)."""
        if self.ok:
            return ""
        if not self.answered:
            return f"no worker answered; none consumes {self.queue!r}"
        return f"{len(self.answered)} worker(s) answered, none consumes {self.queue!r}"


def check_health(app: Celery, queue: str | None = None, timeout: float = 5.0) -> Health:
    """Ask the app's workers which queues they consume, waiting `timeout` seconds.

    Args:
        app: the Celery app the workers run.
        queue: the queue to check; default the app's `events_default_queue`.
        timeout: how long to wait for answers, in seconds.

    Raises:
        OSError: the broker cannot be reached (kombu's `OperationalError` is one).
    """
    queue = queue or runtime_of(app).settings.default_queue
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    nodes = tuple(
        sorted(
            node
            for node, queues in replies.items()
            if any(isinstance(item, dict) and item.get("name") == queue for item in queues or ())
        )
    )
    return Health(queue, nodes, tuple(sorted(replies)))
