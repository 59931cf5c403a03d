"""Retries with backoff, routing of events to queues, and a dead-letter queue for events-celery.

```python
app.conf.events_routes = {"order.*": "orders"}
app.conf.events_retry = RetryPolicy(max_attempts=5)
app.conf.events_dead_letter = True
events_celery.install(app)   # plugs events-contrib in when it is installed
```
"""

from events_contrib.__about__ import __version__
from events_contrib.backoff import Backoff, compute_backoff
from events_contrib.bootstrap import install
from events_contrib.deadletter import DeadLetter, DeadLetterQueue, HandlerFailure
from events_contrib.errors import (
    ConfigurationError,
    DeadLetterNotFoundError,
    DeadLetterQueueBusyError,
    InvalidDeadLetterError,
    UnknownQueueError,
)
from events_contrib.retry import RetryPolicy, retry
from events_contrib.routing import Router

__all__ = [
    # retries
    "RetryPolicy",
    "Backoff",
    "compute_backoff",
    "retry",
    # routing
    "Router",
    # dead letters
    "DeadLetterQueue",
    "DeadLetter",
    "HandlerFailure",
    # bootstrap
    "install",
    # errors
    "ConfigurationError",
    "UnknownQueueError",
    "DeadLetterNotFoundError",
    "DeadLetterQueueBusyError",
    "InvalidDeadLetterError",
    "__version__",
]
