"""Run events-core handlers on Celery workers.

```python
from celery import Celery
from events_celery import CeleryEventEmitter, install

app = Celery("shop", broker="redis://127.0.0.1:6379/0")
install(app)
CeleryEventEmitter(app).emit("OrderPlaced", order_id=42)
```
"""

from events_celery.__about__ import __version__
from events_celery.bootstrap import install
from events_celery.emitter import CeleryEventEmitter
from events_celery.envelope import Envelope
from events_celery.errors import (
    BatchPublishError,
    ConfigurationError,
    DecodeError,
    DeliveryLimitError,
    EmissionFailedError,
    EncodeError,
    EnvelopeError,
    ForeignMessageError,
    HandlerTimeoutError,
    MalformedEnvelopeError,
    PublishError,
    SignatureError,
    TooDeepError,
    TooLargeError,
    UnknownCodecError,
    UnregisteredError,
)
from events_celery.timelimit import time_limit

__all__ = [
    # bootstrap and emitting
    "install",
    "CeleryEventEmitter",
    "Envelope",
    "time_limit",
    # errors
    "ConfigurationError",
    "PublishError",
    "BatchPublishError",
    "EncodeError",
    "UnknownCodecError",
    "EnvelopeError",
    "MalformedEnvelopeError",
    "SignatureError",
    "DecodeError",
    "UnregisteredError",
    "TooLargeError",
    "TooDeepError",
    "ForeignMessageError",
    "DeliveryLimitError",
    "HandlerTimeoutError",
    "EmissionFailedError",
    "__version__",
]
