"""`Body`: what an envelope carries inside `body`; the only module that writes or reads its text.

The body is JSON text. Its payload (args and kwargs) is encoded by the codec the envelope
names (`events_celery.codecs`): tagged JSON, or base64 pickle when the user opted in. It is
decoded only after the envelope's signature has been checked, and classes in it are resolved
only through the worker's policy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from events_celery import codecs
from events_celery.classpath import TypeResolver
from events_celery.errors import DecodeError, EncodeError

KINDS = ("name", "class")

MAX_TIMESTAMP = 253402300799.0
"""Latest time a body may carry (9999-12-31T23:59:59Z, the last a `datetime` can show)."""

MAX_ATTEMPT = 1_000_000
"""Highest attempt number a body may carry."""

MAX_ARGUMENTS = 1024
"""Most positional, and most keyword, arguments one emission may carry."""

_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Meta:
    """The library's own bookkeeping, apart from the user's headers."""

    attempt: int = 1
    queue: str = ""
    first_failure: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written into the body."""
        return {
            **self.extra,
            "attempt": self.attempt,
            "queue": self.queue,
            "first_failure": self.first_failure,
        }

    @classmethod
    def from_json(cls, data: object) -> Meta:
        """Read the body's `meta` object, raising DecodeError on a wrong shape."""
        if not isinstance(data, dict):
            raise DecodeError("body field 'meta' must be an object")
        attempt = data.get("attempt")
        queue = data.get("queue")
        first = data.get("first_failure")
        if type(attempt) is not int or not 1 <= attempt <= MAX_ATTEMPT:
            raise DecodeError(f"meta 'attempt' must be an integer from 1 to {MAX_ATTEMPT}")
        if not isinstance(queue, str):
            raise DecodeError("meta 'queue' must be a string")
        if first is not None and not is_timestamp(first):
            raise DecodeError("meta 'first_failure' must be a time (seconds since 1970) or null")
        extra = {
            key: value
            for key, value in data.items()
            if key not in ("attempt", "queue", "first_failure")
        }
        return cls(attempt, queue, None if first is None else float(first), extra)


@dataclass(frozen=True)
class Body:
    """One emission's content, as carried in an envelope."""

    kind: str
    linker: str
    handlers: tuple[str, ...] | None
    timestamp: float
    headers: Mapping[str, str]
    meta: Meta
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]

    def encode(self, codec: str) -> str:
        """Return the body's text, its payload encoded by the codec named `codec`.

        Raises:
            EncodeError: a payload value the codec cannot carry, naming where it is.
            UnknownCodecError: no codec is registered as `codec`.
        """
        for where, given in (("args", self.args), ("kwargs", self.kwargs)):
            if len(given) > MAX_ARGUMENTS:
                raise EncodeError(
                    where, f"{len(given)} arguments; an emission carries at most {MAX_ARGUMENTS}"
                )
        data: dict[str, Any] = {
            "kind": self.kind,
            "linker": self.linker,
            "handlers": None if self.handlers is None else list(self.handlers),
            "ts": self.timestamp,
            "headers": dict(self.headers),
            "meta": self.meta.to_json(),
        }
        data.update(codecs.get(codec).encode(self.args, self.kwargs))
        return _COMPACT.encode(data)


def read_frame(text: str) -> dict[str, Any]:
    """Parse the body's JSON frame and check its fields, without decoding the payload.

    Raises:
        DecodeError: not JSON, or a field of the wrong shape.
    """
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise DecodeError("the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise DecodeError("the body must be a JSON object")
    if data.get("kind") not in KINDS:
        raise DecodeError("body field 'kind' must be 'name' or 'class'")
    linker = data.get("linker")
    if not isinstance(linker, str) or ":" not in linker:
        raise DecodeError("body field 'linker' must be an import path 'module:QualName'")
    if "handlers" not in data:
        raise DecodeError("body field 'handlers' is missing")
    handlers = data["handlers"]
    if handlers is not None and not (
        isinstance(handlers, list) and all(isinstance(ref, str) for ref in handlers)
    ):
        raise DecodeError("body field 'handlers' must be a list of strings or null")
    if not is_timestamp(data.get("ts")):
        raise DecodeError("body field 'ts' must be a time (seconds since 1970)")
    headers = data.get("headers")
    if not isinstance(headers, dict) or not all(
        isinstance(value, str) for value in headers.values()
    ):
        raise DecodeError("body field 'headers' must map strings to strings")
    return data


def decode_body(text: str, codec: str, resolve: TypeResolver | None) -> Body:
    """Decode a body's text, resolving classes in the payload through `resolve`.

    `resolve` may be None only for a codec that rebuilds no classes by path (pickle). Call
    this only after the envelope's signature has been checked.

    Raises:
        DecodeError: any malformed field or payload, or a class the resolver refuses.
        UnknownCodecError: no codec is registered as `codec`.
    """
    return decode_frame(read_frame(text), codec, resolve)


def decode_frame(data: dict[str, Any], codec: str, resolve: TypeResolver | None) -> Body:
    """Decode a body whose frame `read_frame` has already parsed and checked, as `decode_body`.

    Raises:
        DecodeError: any malformed field or payload, or a class the resolver refuses.
        UnknownCodecError: no codec is registered as `codec`.
    """
    meta = Meta.from_json(data.get("meta"))
    for field_name in ("args", "kwargs"):
        raw = data.get(field_name)
        if isinstance(raw, (list, dict)) and len(raw) > MAX_ARGUMENTS:
            raise DecodeError(f"body field {field_name!r} holds more than {MAX_ARGUMENTS} items")
    args, kwargs = codecs.get(codec).decode(data, resolve)
    if len(args) > MAX_ARGUMENTS or len(kwargs) > MAX_ARGUMENTS:
        raise DecodeError(f"an emission carries at most {MAX_ARGUMENTS} arguments of each kind")
    if not all(isinstance(key, str) for key in kwargs):
        raise DecodeError("keyword argument names must be strings")
    handlers = data["handlers"]
    return Body(
        kind=data["kind"],
        linker=data["linker"],
        handlers=None if handlers is None else tuple(handlers),
        timestamp=float(data["ts"]),
        headers=data["headers"],
        meta=meta,
        args=tuple(args),
        kwargs=kwargs,
    )


def rewrite_for_replay(
    text: str, *, replayed_from: str, handlers: Sequence[str] | None = None
) -> str:
    """Return a body's text as a replay of dead letter `replayed_from` sends it.

    The payload stays as it is, whatever the codec, and is not decoded. Meta starts again at
    attempt 1 with no first failure and records `replayed_from`; its queue and other keys
    are kept.

    Args:
        text: the body of the dead-lettered envelope.
        replayed_from: the dead letter's id.
        handlers: refs replacing the body's handler list; None keeps the list as it is.

    Raises:
        DecodeError: `text` is not a well-formed body.
    """
    data = read_frame(text)
    meta = Meta.from_json(data.get("meta"))
    if handlers is not None:
        data["handlers"] = list(handlers)
    extra = {**meta.extra, "replayed_from": replayed_from}
    data["meta"] = Meta(attempt=1, queue=meta.queue, first_failure=None, extra=extra).to_json()
    return _COMPACT.encode(data)


def is_timestamp(value: object) -> bool:
    """Whether `value` is a number of seconds from 1970 to `MAX_TIMESTAMP`."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_TIMESTAMP
    )


def _refuse_constant(name: str) -> None:
    # json.loads reads NaN, Infinity and -Infinity, which the wire format does not have.
    raise ValueError(f"{name} is not JSON")
