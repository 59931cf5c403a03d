"""What counts as an event, its wire name, and the subscription keys it dispatches to."""

from __future__ import annotations

import dataclasses
from types import EllipsisType
from typing import Any, TypeAlias

from events_core.errors import InvalidEventError

Event: TypeAlias = Any
"""An event: a non-empty string, a dataclass instance or an `Exception` instance."""

EventKey: TypeAlias = "str | type | EllipsisType"
"""What handlers subscribe to: a string name, a dataclass or Exception class, or `...`."""


def class_path(cls: type) -> str:
    """Return the import path of `cls` as `module:QualName`, the wire name of its events."""
    return f"{cls.__module__}:{cls.__qualname__}"


def is_event_class(value: object) -> bool:
    """Return whether `value` is a class whose instances are events."""
    return isinstance(value, type) and (
        dataclasses.is_dataclass(value) or issubclass(value, Exception)
    )


def event_name(event: Event) -> str:
    """Return the wire name of `event`, raising `InvalidEventError` if it is not an event."""
    if type(event) is str:
        if event:
            return event
        raise InvalidEventError(event)
    if isinstance(event, str) and event:
        return str(event)
    if not isinstance(event, type) and is_event_class(type(event)):
        return class_path(type(event))
    raise InvalidEventError(event)


def validate_key(key: object) -> EventKey:
    """Return `key` if handlers can subscribe to it, else raise `InvalidEventError`."""
    if key is ...:
        return ...
    if isinstance(key, str) and key:
        return str(key)
    if is_event_class(key):
        assert isinstance(key, type)
        return key
    raise InvalidEventError(key, subscribing=True)


def key_name(key: EventKey) -> str:
    """Return a readable name for a subscription key."""
    if key is ...:
        return "..."
    if isinstance(key, type):
        return class_path(key)
    assert isinstance(key, str)
    return key
