"""Backend-agnostic events: the handler registry, the emission model and in-process emitters.

```python
from events_core import AsyncIOEventEmitter, EventLinker

@EventLinker.on("OrderPlaced")
def send_receipt(order_id: int) -> None:
    print("receipt for", order_id)

AsyncIOEventEmitter().emit("OrderPlaced", order_id=42)
```
"""

from events_core.__about__ import __version__
from events_core.asyncio import AsyncIOEventEmitter
from events_core.composite import CompositeEventEmitter
from events_core.emission import EventEmission, current_emission
from events_core.emitter import EventEmitter
from events_core.errors import (
    CallbackReturnedAwaitableError,
    ConfigurationError,
    ConfigurationTypeError,
    EmitError,
    EventsError,
    HandlerNotImportableError,
    InvalidEventError,
    InvalidHandlerError,
    MaxHandlersExceededError,
    UnknownFieldError,
)
from events_core.executor import ExecutorEventEmitter
from events_core.handler import EventHandler
from events_core.registry import EventLinker
from events_core.report import EmissionReport, HandlerOutcome

__all__ = [
    # registry and model
    "EventLinker",
    "EventHandler",
    "EventEmission",
    "current_emission",
    "EmissionReport",
    "HandlerOutcome",
    # emitters
    "EventEmitter",
    "AsyncIOEventEmitter",
    "ExecutorEventEmitter",
    "CompositeEventEmitter",
    # errors
    "EventsError",
    "ConfigurationError",
    "ConfigurationTypeError",
    "InvalidEventError",
    "InvalidHandlerError",
    "MaxHandlersExceededError",
    "HandlerNotImportableError",
    "CallbackReturnedAwaitableError",
    "EmitError",
    "UnknownFieldError",
    "__version__",
]
