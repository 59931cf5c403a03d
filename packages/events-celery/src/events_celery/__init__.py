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
    ConfigurationError,
    DecodeError,
    EmissionFailedError,
    EncodeError,
    EnvelopeError,
    MalformedEnvelopeError,
    PublishError,
    SignatureError,
    UnknownCodecError,
    UnregisteredError,
)

__all__ = [
    # bootstrap and emitting
    "install",
    "CeleryEventEmitter",
    "Envelope",
    # errors
    "ConfigurationError",
    "PublishError",
    "EncodeError",
    "UnknownCodecError",
    "EnvelopeError",
    "MalformedEnvelopeError",
    "SignatureError",
    "DecodeError",
    "UnregisteredError",
    "EmissionFailedError",
    "__version__",
]
