"""The task message of a version 3 envelope: a kombu serializer that leaves the body unescaped.

Celery's protocol 2 message body is `[args, kwargs, embed]`. With the json serializer the
envelope's body, itself JSON text, is escaped once more inside it. This serializer writes
instead, as UTF-8 text:

```
[{"v": 3, "id": "...", "event": "...", "codec": "json", "kid": ..., "sig": ...}, embed]
<the envelope's body, as it was signed>
```

The first line is JSON (kombu's, so Celery's `embed` round-trips), the rest is the body byte
for byte. Eager mode (`task_always_eager`) round-trips `(args, kwargs)` alone; its first line
is then `[{...}]`. Reading splits at the first newline and parses the first line only: the
body stays text until the signature over it has been checked. The message keeps Celery's headers
(`task`, `id`, `argsrepr`, `shadow`), so Celery's tools see it as any other task.
"""

from __future__ import annotations

from typing import Any

from kombu.serialization import register
from kombu.utils.json import dumps, loads

from events_celery.envelope import VERSION
from events_celery.errors import DecodeError, EncodeError

SERIALIZER = "events-envelope"
"""The kombu serializer name a version 3 envelope is published with."""

CONTENT_TYPE = "application/x-events-envelope"
"""The content type of its messages; `install` adds it to the app's `accept_content`."""

ENCODING = "utf-8"
"""The content encoding of its messages."""

_HEADER_FIELDS = ("v", "id", "event", "codec", "kid", "sig")


def encode_message(body: Any) -> str:
    """Write Celery's `(args, kwargs, embed)`, or eager mode's `(args, kwargs)`, whose only
    argument is a version 3 envelope.

    Raises:
        EncodeError: the task message is not `((envelope,), {}[, embed])` of version 3.
    """
    try:
        (envelope,), kwargs, *embed = body
    except (TypeError, ValueError):
        raise EncodeError("task message", "expected ((envelope,), {}, embed)") from None
    if kwargs or len(embed) > 1:
        raise EncodeError("task message", "expected ((envelope,), {}, embed)")
    if not isinstance(envelope, dict) or envelope.get("v") != VERSION:
        raise EncodeError("task message", f"only a version {VERSION} envelope is carried")
    header = {field: envelope.get(field) for field in _HEADER_FIELDS}
    return f"{dumps([header, *embed])}\n{envelope['body']}"


def decode_message(data: bytes | bytearray | memoryview | str) -> tuple[Any, ...]:
    """Read a message `encode_message` wrote into `([envelope], {}, embed)` (or, from eager
    mode, `([envelope], {})`), the envelope's body left as text.

    The envelope's fields are not checked here: `Envelope.parse` does that.

    Raises:
        DecodeError: not UTF-8, no newline, or a first line that is not `[object, embed]`.
    """
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode(ENCODING)
        except UnicodeDecodeError:
            raise DecodeError("the message is not UTF-8 text") from None
    head, newline, envelope_body = text.partition("\n")
    if not newline:
        raise DecodeError("the message has no newline between its header and its body")
    try:
        parsed = loads(head)
    except RecursionError:
        raise DecodeError("the message header is nested too deep to parse") from None
    except ValueError:
        raise DecodeError("the message header is not JSON") from None
    if not (
        isinstance(parsed, list)
        and len(parsed) in (1, 2)
        and isinstance(parsed[0], dict)
        and (len(parsed) == 1 or parsed[1] is None or isinstance(parsed[1], dict))
    ):
        raise DecodeError("the message header is not [envelope, options]")
    args = [{**parsed[0], "body": envelope_body}]
    return (args, {}, *parsed[1:])


def register_serializer() -> None:
    """Make kombu able to write and read these messages (idempotent)."""
    register(SERIALIZER, encode_message, decode_message, CONTENT_TYPE, ENCODING)
