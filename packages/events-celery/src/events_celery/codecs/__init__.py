"""Body codecs, chosen by name from one registry: `json` (default) and `pickle` (opt-in)."""

from events_celery.codecs.registry import (
    Codec,
    CodecRegistry,
    get,
    names,
    register,
    registry,
    unregister,
)

__all__ = [
    # the protocol and its registry
    "Codec",
    "CodecRegistry",
    "registry",
    # the registry's functions
    "register",
    "unregister",
    "get",
    "names",
]
