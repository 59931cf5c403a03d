"""The codec registry: the one place a body codec is chosen, by the name an envelope carries.

```python
codecs.get("json").encode((1,), {"rush": True})  # {"args": [1], "kwargs": {"rush": True}}
codecs.names()                                   # ("json", "pickle")
```

A codec registered here can be named by `events_serializer` and by an envelope's `codec`
field; workers accept an unsafe one only when their own `events_serializer` names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from events_celery.classpath import TypeResolver
from events_celery.codecs.json import JsonCodec
from events_celery.codecs.pickle import PickleCodec
from events_celery.errors import ConfigurationError, UnknownCodecError

__all__ = ["Codec", "CodecRegistry", "registry", "register", "unregister", "get", "names"]


class Codec(Protocol):
    """How an emission's args and kwargs travel in an envelope's body."""

    name: str
    """The name envelopes carry in their `codec` field."""

    unsafe: bool
    """Whether decoding can run code: then it must be opted into and needs a signing key."""

    def encode(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Return the body fields that carry `args` and `kwargs`.

        Raises:
            EncodeError: a value the codec cannot carry, naming where it is.
        """

    def decode(
        self, fields: Mapping[str, Any], resolve: TypeResolver | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Read `args` and `kwargs` back from the body's fields, classes through `resolve`.

        Raises:
            DecodeError: the fields are malformed or name a class `resolve` refuses.
        """


class CodecRegistry:
    """Codecs by name, in the order they were registered."""

    def __init__(self) -> None:
        self._codecs: dict[str, Codec] = {}

    def register(self, codec: Codec) -> None:
        """Add `codec` under its name.

        Raises:
            ConfigurationError: the name is not a non-empty string, or is taken.
        """
        name = codec.name
        if not isinstance(name, str) or not name:
            raise ConfigurationError("codec", f"a codec's name must be a string, got {name!r}")
        if name in self._codecs:
            raise ConfigurationError("codec", f"a codec named {name!r} is already registered")
        self._codecs[name] = codec

    def unregister(self, name: str) -> None:
        """Remove the codec named `name`.

        Raises:
            UnknownCodecError: no codec has that name.
        """
        self.get(name)
        del self._codecs[name]

    def get(self, name: str) -> Codec:
        """Return the codec named `name`.

        Raises:
            UnknownCodecError: no codec has that name.
        """
        try:
            return self._codecs[name]
        except (KeyError, TypeError):
            raise UnknownCodecError(name, self.names()) from None

    def names(self) -> tuple[str, ...]:
        """The registered names, in the order they were registered."""
        return tuple(self._codecs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._codecs


registry = CodecRegistry()
"""The registry events-celery reads: json and pickle are registered on import."""
registry.register(JsonCodec())
registry.register(PickleCodec())


def register(codec: Codec) -> None:
    """Add `codec` to `registry`; see `CodecRegistry.register`."""
    registry.register(codec)


def unregister(name: str) -> None:
    """Remove a codec from `registry`; see `CodecRegistry.unregister`."""
    registry.unregister(name)


def get(name: str) -> Codec:
    """Return the codec of `registry` named `name`; see `CodecRegistry.get`."""
    return registry.get(name)


def names() -> tuple[str, ...]:
    """The names registered in `registry`."""
    return registry.names()
