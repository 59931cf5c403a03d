"""Which classes a worker rebuilds from a message: only those its linker subscribes to.

A message names classes by import path. The worker never imports a module for it: a class is
rebuilt only if it is a dataclass or exception class the linker has handlers for, a subclass
of one that is already imported, or a dataclass or enum that such a dataclass declares in its
field annotations (so nested values of an event round-trip).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import typing
from collections.abc import Iterator

from events_celery.classpath import TypeKind, is_kind
from events_celery.errors import DecodeError
from events_core.events import class_path
from events_core.registry import EventLinker


class LinkerTypes:
    """A type resolver for the codec that accepts only the classes a linker trusts."""

    def __init__(self, linker: type[EventLinker]) -> None:
        self.linker = linker
        self._roots: tuple[type, ...] = ()
        self._trusted: dict[str, type] = {}

    def __call__(self, path: str, kind: TypeKind) -> type:
        """Return the trusted class at `path`, or raise DecodeError."""
        trusted = self._lookup(path)
        if trusted is None:
            raise DecodeError(
                f"type {path!r} is not one that {self.linker.path()} subscribes to, "
                f"nor an imported subclass of one"
            )
        if not is_kind(trusted, kind):
            raise DecodeError(f"type {path!r} is not a {kind}")
        return trusted

    def _lookup(self, path: str) -> type | None:
        roots = self.linker.subscribed_classes()
        if roots != self._roots:
            self._roots = roots
            self._trusted = {class_path(cls): cls for cls in _closure(roots)}
        found = self._trusted.get(path)
        if found is None:
            # A subclass may have been imported since the closure was computed.
            self._trusted = {class_path(cls): cls for cls in _closure(roots)}
            found = self._trusted.get(path)
        return found


def _closure(roots: tuple[type, ...]) -> Iterator[type]:
    seen: set[type] = set()
    pending = list(roots)
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        pending.extend(cls.__subclasses__())
        if dataclasses.is_dataclass(cls):
            pending.extend(_annotated_types(cls))


@functools.lru_cache(maxsize=4096)
def _annotated_types(cls: type) -> tuple[type, ...]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable annotations: trust nothing more
        return ()
    found: list[type] = []
    stack = list(hints.values())
    while stack:
        hint = stack.pop()
        if isinstance(hint, type) and (
            dataclasses.is_dataclass(hint) or issubclass(hint, enum.Enum)
        ):
            found.append(hint)
        stack.extend(typing.get_args(hint))
    return tuple(found)
