"""What a handler needs to know about a callable: its import path, and whether it is async."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any


def is_async_callable(obj: object) -> bool:
    """Return whether calling `obj` returns a coroutine that must be awaited.

    True for a coroutine function (or a method of one), an object whose `__call__` is a
    coroutine function, and a `functools.partial` (nested or not) of either.
    """
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    if isinstance(obj, type) or inspect.isroutine(obj):
        return False
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - how it is called, not whether
    return inspect.iscoroutinefunction(call)


def callable_ref(func: Callable[..., Any]) -> str:
    """Return the import path `module:qualname` of a callable.

    A function, method or class is named by its module and qualified name. A callable
    without a name of its own (an instance with `__call__`, a `functools.partial`) is named
    by the module-level attribute holding it, in the module of its class (of the wrapped
    callable, for a partial): `send_receipt = SendReceipt()` in `handlers` has the ref
    `handlers:send_receipt`, which imports that very object. Subscribe such callables from
    a module-level name. Without one, an instance is named by its class and a partial like
    the callable it wraps: the same in every process, but shared by every such callable.
    """
    qualname = _own_qualname(func)
    if qualname is not None:
        return f"{getattr(func, '__module__', None) or '?'}:{qualname}"
    wrapped: Any = func
    while isinstance(wrapped, functools.partial):
        wrapped = wrapped.func
    module = getattr(wrapped, "__module__", None) or "?"
    attribute = _attribute_holding(module, func)
    if attribute is not None:
        return f"{module}:{attribute}"
    if wrapped is not func:
        return callable_ref(wrapped)
    return f"{module}:{type(func).__qualname__}"


def is_importable_ref(ref: str) -> bool:
    """Return whether a worker could import the callable named by `ref`."""
    module, _, qualname = ref.partition(":")
    return (
        module not in ("__main__", "?", "")
        and "<" not in qualname
        and ">" not in qualname
        and bool(qualname)
    )


def _own_qualname(obj: object) -> str | None:
    name = getattr(obj, "__qualname__", None)
    return name if isinstance(name, str) and name else None


def _attribute_holding(module: str, obj: object) -> str | None:
    namespace = getattr(sys.modules.get(module), "__dict__", None) or {}
    for name, value in list(namespace.items()):
        if value is obj and not name.startswith("__"):
            return str(name)
    return None


def takes_an_argument(func: Callable[..., Any]) -> bool:
    """Whether `func` can be called with one positional argument (True when unsure)."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        parameter.kind
        in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD, parameter.VAR_POSITIONAL)
        for parameter in parameters
    )
