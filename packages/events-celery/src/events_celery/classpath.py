"""Class paths (`module:QualName`) in messages, and finding the class one names without importing.

A message names classes by import path. Resolving one only walks modules that are already
imported, by their `vars()`, so no module is imported and no module `__getattr__`, descriptor
or property runs.

```python
loaded_type("json.decoder:JSONDecodeError", "exception")  # the class, once json is imported
```
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable, Mapping
from enum import Enum
from types import ModuleType
from typing import Literal

from events_celery.errors import DecodeError

__all__ = [
    "TypeKind",
    "TypeResolver",
    "KIND_NAMES",
    "is_class_path",
    "is_kind",
    "loaded_type",
]

TypeKind = Literal["dataclass", "exception", "enum"]
"""What kind of class a message claims a class path names."""

TypeResolver = Callable[[str, TypeKind], type]
"""Given an import path `module:QualName` and what kind of type the message claims, return the
class, or raise `DecodeError`. Resolvers never import anything."""

KIND_NAMES: Mapping[TypeKind, str] = {
    "dataclass": "a dataclass",
    "exception": "an Exception subclass",
    "enum": "an Enum",
}
"""Each kind as error messages name it."""

_PATH = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*:[^\W\d]\w*(?:\.[^\W\d]\w*)*")


def is_class_path(value: object) -> bool:
    """Whether `value` is a string of the form `module:QualName` (both parts may be dotted)."""
    return isinstance(value, str) and _PATH.fullmatch(value) is not None


def is_kind(obj: object, kind: TypeKind) -> bool:
    """Whether `obj` is a class of `kind`: a dataclass, an Exception subclass or an Enum."""
    if not isinstance(obj, type):
        return False
    if kind == "dataclass":
        return dataclasses.is_dataclass(obj)
    return issubclass(obj, Exception if kind == "exception" else Enum)


def loaded_type(path: str, kind: TypeKind) -> type:
    """Resolve `path` among already-imported modules; a `TypeResolver` for trusted tooling.

    Args:
        path: `module:QualName`, where QualName may be dotted (`module:Outer.Inner`).
        kind: The kind the class must be.

    Returns:
        The class.

    Raises:
        DecodeError: The path is malformed, its module is not imported, a name along it is
            missing, or what it names is not a class of that kind.
    """
    if not is_class_path(path):
        raise DecodeError(f"class path {_short(path)} is not of the form 'module:QualName'")
    module_name, qualname = path.split(":")
    module = sys.modules.get(module_name)
    if module is None:
        raise DecodeError(f"{kind} {path!r}: module {module_name!r} is not imported")
    found: object = module
    for name in qualname.split("."):
        # vars() rather than getattr: no module __getattr__, descriptor or property runs.
        found = vars(found).get(name) if isinstance(found, (ModuleType, type)) else None
        if found is None:
            raise DecodeError(f"{kind} {path!r}: {name!r} not found")
    if not is_kind(found, kind):
        raise DecodeError(f"{kind} {path!r} is not {KIND_NAMES[kind]}")
    assert isinstance(found, type)
    return found


def _short(value: object) -> str:
    text = repr(value) if isinstance(value, str) else f"of type {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."
