"""The json codec, the default: `args` and `kwargs` as tagged JSON.

Plain JSON stays as it is; what JSON lacks is written as a tag: an object whose reserved key
`"__t"` names the type, with the value under `"v"` and, for classes, the class's import path
under `"c"`. Decoding never imports: class paths go to a `TypeResolver`.

```python
encode_json((1, b"hi"))  # {"__t": "tuple", "v": [1, {"__t": "bytes", "v": "aGk="}]}
```
"""

from __future__ import annotations

import base64
import builtins
import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from events_celery.classpath import KIND_NAMES, TypeKind, TypeResolver, is_class_path, is_kind
from events_celery.errors import DecodeError, EncodeError

__all__ = [
    "JsonCodec",
    "encode_json",
    "decode_json",
    "MAX_DEPTH",
    "MAX_INT_BITS",
]

MAX_DEPTH = 100
"""Deepest nesting of containers, dataclasses, enums and exceptions either direction accepts."""

_TAG = "__t"
_KINDS: dict[str, TypeKind] = {"enum": "enum", "dataclass": "dataclass", "exception": "exception"}
# Ints beyond 64 bits are tagged: other JSON readers lose their precision, and Python refuses to
# print ints of more than 4300 digits, which hex text avoids.
_INT_LIMIT = 2**63
MAX_INT_BITS = 65536
"""Largest integer either direction accepts, in bits (about 19,700 decimal digits)."""
_HEX_INT = re.compile(r"-?[0-9a-f]+")
_NON_FINITE = {"nan", "inf", "-inf"}
_BUILTIN_EXCEPTIONS: dict[str, type[Exception]] = {
    f"builtins:{name}": obj
    for name, obj in vars(builtins).items()
    if isinstance(obj, type) and issubclass(obj, Exception)
}
_SCALARS: tuple[tuple[type, str, Callable[[Any], Any]], ...] = (
    (bytes, "bytes", lambda b: base64.b64encode(b).decode("ascii")),
    (datetime, "datetime", datetime.isoformat),
    (date, "date", date.isoformat),
    (time, "time", time.isoformat),
    (timedelta, "timedelta", lambda d: [d.days, d.seconds, d.microseconds]),
    (UUID, "uuid", str),
    (Decimal, "decimal", str),
)
_SCALAR_DECODERS: dict[str, Callable[[str], Any]] = {
    "bytes": lambda v: base64.b64decode(v, validate=True),
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "uuid": UUID,
    "decimal": Decimal,
}
_COLLECTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
}
_TAGS = frozenset({*_SCALAR_DECODERS, *_COLLECTIONS, *_KINDS, "timedelta", "float", "int", "dict"})


def encode_json(value: Any) -> Any:
    """Turn `value` into a JSON-compatible structure, tagging what JSON lacks.

    Args:
        value: Plain JSON values, tuples, sets, frozensets, bytes, datetimes, dates, times,
            timedeltas, UUIDs, Decimals, enum members, dataclass instances and exceptions
            (only their `args`), nested in any way. Subclasses of the built-in types decode as
            the built-in type.

    Returns:
        Dicts with str keys, lists, str, int, float (finite), bool and None.

    Raises:
        EncodeError: A value is of another type, refers to itself, is nested deeper than
            `MAX_DEPTH`, or its class cannot be found by import path. `where` is its path from
            `value`, ready to follow a name (`[0].items[2]`, `['when']`), or `"value"` for
            `value` itself.
    """
    if _is_plain(value, 0):
        return value
    return _encode(value, "", 0, set())


def _is_plain(value: Any, depth: int) -> bool:
    """Whether `value` is already JSON that `decode_json` reads back unchanged (the fast path)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_INT_LIMIT <= value < _INT_LIMIT)
    if kind is float:
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    if kind is list:
        return all(_is_plain(item, depth + 1) for item in value)
    if kind is dict:
        return _TAG not in value and all(
            type(key) is str and _is_plain(item, depth + 1) for key, item in value.items()
        )
    return False


def decode_json(data: Any, resolve: TypeResolver) -> Any:
    """Rebuild the value `encode_json` turned into `data`.

    Args:
        data: The structure `json.loads` produced. Treated as hostile.
        resolve: Looks up every class path in `data` except the built-in exceptions.

    Returns:
        The decoded value.

    Raises:
        DecodeError: `data` is malformed, has an unknown tag, names a class `resolve` refuses
            or that is not of the kind claimed, or holds values that class refuses.
    """
    return _decode(data, resolve, 0)


class JsonCodec:
    """The default codec: the body's `args` (a list) and `kwargs` (an object), tagged JSON.

    Safe to decode from anyone: a class is rebuilt only if the worker's `TypeResolver`
    returns it.
    """

    name = "json"
    unsafe = False

    def encode(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Return the body fields `args` and `kwargs`.

        Raises:
            EncodeError: a value the codec cannot carry, `where` starting at `args` or
                `kwargs` (`args[0].items[2]`).
        """
        return {
            "args": _payload(list(args), "args") if args else [],
            "kwargs": _payload(dict(kwargs), "kwargs"),
        }

    def decode(
        self, fields: Mapping[str, Any], resolve: TypeResolver | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Read `args` and `kwargs` from the body's fields, classes through `resolve`.

        Raises:
            DecodeError: no resolver, fields of the wrong shape, or a payload `decode_json`
                refuses.
        """
        if resolve is None:
            raise DecodeError("decoding a json body needs a type resolver")
        raw_args, raw_kwargs = fields.get("args"), fields.get("kwargs")
        if not isinstance(raw_args, list) or not isinstance(raw_kwargs, dict):
            raise DecodeError("body fields 'args' and 'kwargs' must be a list and an object")
        args = decode_json(raw_args, resolve)
        kwargs = decode_json(raw_kwargs, resolve)
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise DecodeError("decoded 'args' and 'kwargs' must be a list and a mapping")
        return tuple(args), kwargs


def _payload(value: Any, where: str) -> Any:
    try:
        return encode_json(value)
    except EncodeError as exc:
        path = where if exc.where == "value" else f"{where}{exc.where}"
        raise EncodeError(path, exc.problem) from exc


def _encode(value: Any, where: str, depth: int, active: set[int]) -> Any:
    if depth > MAX_DEPTH:
        raise EncodeError(where or "value", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Enum):
        item = _encode(value.value, where + ".value", depth + 1, active)
        return {_TAG: "enum", "c": _class_path(type(value), where), "v": item}
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        if -_INT_LIMIT <= value < _INT_LIMIT:
            return int.__index__(value)
        if value.bit_length() > MAX_INT_BITS:
            raise EncodeError(where or "value", f"an integer of more than {MAX_INT_BITS} bits")
        return {_TAG: "int", "v": format(value, "x")}
    if isinstance(value, float):
        return float.__float__(value) if math.isfinite(value) else {_TAG: "float", "v": str(value)}
    if isinstance(value, (datetime, time)) and (value.utcoffset() or timedelta()).microseconds:
        # fromisoformat silently drops the fraction, so refuse rather than shift the value.
        raise EncodeError(where or "value", "a UTC offset with a fraction of a second")
    for cls, tag, to_json in _SCALARS:
        if isinstance(value, cls):
            return {_TAG: tag, "v": to_json(value)}
    is_dataclass = dataclasses.is_dataclass(value) and not isinstance(value, type)
    if not (is_dataclass or isinstance(value, (list, tuple, set, frozenset, dict, Exception))):
        kind = type(value)
        problem = f"{kind.__module__}.{kind.__qualname__} is not supported by the json codec"
        raise EncodeError(where or "value", problem)
    if id(value) in active:
        raise EncodeError(where or "value", f"circular reference to a {type(value).__name__}")
    active.add(id(value))
    try:
        return _encode_composite(value, where, depth + 1, active)
    finally:
        active.discard(id(value))


def _encode_composite(value: Any, where: str, depth: int, active: set[int]) -> Any:
    if isinstance(value, list):
        return [_encode(x, f"{where}[{i}]", depth, active) for i, x in enumerate(value)]
    if isinstance(value, tuple):
        items = [_encode(x, f"{where}[{i}]", depth, active) for i, x in enumerate(value)]
        return {_TAG: "tuple", "v": items}
    if isinstance(value, (set, frozenset)):
        items = [_encode(x, f"{where}{{#{i}}}", depth, active) for i, x in enumerate(value)]
        return {_TAG: "frozenset" if isinstance(value, frozenset) else "set", "v": items}
    if isinstance(value, dict):
        if _TAG not in value and all(type(key) is str for key in value):
            return {k: _encode(x, _key_at(where, k), depth, active) for k, x in value.items()}
        pairs = [
            [
                _encode(k, f"{where}<key #{i}>", depth, active),
                _encode(x, _key_at(where, k), depth, active),
            ]
            for i, (k, x) in enumerate(value.items())
        ]
        return {_TAG: "dict", "v": pairs}
    path = _class_path(type(value), where)
    if dataclasses.is_dataclass(value):
        fields = {
            f.name: _encode(getattr(value, f.name), f"{where}.{f.name}", depth, active)
            for f in dataclasses.fields(value)
            if f.init
        }
        return {_TAG: "dataclass", "c": path, "v": fields}
    args = [_encode(x, f"{where}.args[{i}]", depth, active) for i, x in enumerate(value.args)]
    return {_TAG: "exception", "c": path, "v": args}


def _key_at(where: str, key: object) -> str:
    if key is None or isinstance(key, (str, int, float)):
        return f"{where}[{key!r}]"
    return f"{where}[<{type(key).__name__} key>]"


def _class_path(cls: type, where: str) -> str:
    path = f"{cls.__module__}:{cls.__qualname__}"
    if not is_class_path(path):
        problem = f"class {path} cannot be found by import path (defined in a function?)"
        raise EncodeError(where or "value", problem)
    return path


def _decode(data: Any, resolve: TypeResolver, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise DecodeError(f"payload is nested deeper than {MAX_DEPTH} levels")
    if data is None or isinstance(data, (str, bool, int, float)):
        return data
    if isinstance(data, list):
        return [_decode(x, resolve, depth + 1) for x in data]
    if not isinstance(data, dict):
        raise DecodeError(f"payload holds a {type(data).__name__}, which JSON cannot produce")
    if _TAG in data:
        return _decode_tagged(data, resolve, depth)
    if not all(isinstance(key, str) for key in data):
        raise DecodeError("payload holds an object with a non-string key")
    return {key: _decode(x, resolve, depth + 1) for key, x in data.items()}


def _decode_tagged(data: dict[Any, Any], resolve: TypeResolver, depth: int) -> Any:
    tag = data[_TAG]
    if not isinstance(tag, str) or tag not in _TAGS:
        raise DecodeError(f"unknown tag {_short(tag)}")
    keys = {_TAG, "c", "v"} if tag in _KINDS else {_TAG, "v"}
    if set(data) != keys:
        raise DecodeError(f"tag {tag!r} must have exactly the keys {sorted(keys)}")
    value = data["v"]
    if tag in _KINDS:
        return _decode_class(_KINDS[tag], data["c"], value, resolve, depth)
    if tag in _COLLECTIONS or tag == "dict":
        items = _decode_items(tag, value, resolve, depth)
        try:
            return dict(items) if tag == "dict" else _COLLECTIONS[tag](items)
        except Exception as exc:
            raise DecodeError(f"{tag} holds an unhashable item ({type(exc).__name__})") from exc
    try:
        return _decode_scalar(tag, value)
    except (ValueError, TypeError, ArithmeticError) as exc:
        # The value is payload: name its type only, since decode errors get logged.
        raise DecodeError(f"invalid {tag} value of type {type(value).__name__}") from exc


def _decode_scalar(tag: str, value: Any) -> Any:
    if tag == "timedelta":
        if type(value) is not list or len(value) != 3 or any(type(x) is not int for x in value):
            raise ValueError("timedelta needs [days, seconds, microseconds] integers")
        return timedelta(*value)
    if not isinstance(value, str):
        raise TypeError(f"tag {tag!r} needs a string value")
    if tag == "float":
        if value not in _NON_FINITE:
            raise ValueError("only nan, inf and -inf are tagged floats")
        return float(value)
    if tag == "int":
        if len(value) > MAX_INT_BITS // 4 + 1 or not _HEX_INT.fullmatch(value):
            raise ValueError(f"tagged ints are hexadecimal, of {MAX_INT_BITS} bits at most")
        return int(value, 16)
    return _SCALAR_DECODERS[tag](value)


def _decode_items(tag: str, value: Any, resolve: TypeResolver, depth: int) -> list[Any]:
    if type(value) is not list:
        raise DecodeError(f"tag {tag!r} needs a list value")
    if tag != "dict":
        return [_decode(x, resolve, depth + 1) for x in value]
    if any(type(pair) is not list or len(pair) != 2 for pair in value):
        raise DecodeError("tag 'dict' needs a list of [key, value] pairs")
    return [(_decode(k, resolve, depth + 1), _decode(x, resolve, depth + 1)) for k, x in value]


def _decode_class(kind: TypeKind, path: Any, value: Any, resolve: TypeResolver, depth: int) -> Any:
    cls = _resolve(path, kind, resolve)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if kind == "dataclass":
        if type(value) is not dict or not all(isinstance(key, str) for key in value):
            raise DecodeError(f"dataclass {path!r} needs an object of its fields")
        _check_fields(cls, path, value)
        kwargs = {key: _decode(x, resolve, depth + 1) for key, x in value.items()}
    elif kind == "exception":
        if type(value) is not list:
            raise DecodeError(f"exception {path!r} needs a list of args")
        args = [_decode(x, resolve, depth + 1) for x in value]
    else:
        args = [_decode(value, resolve, depth + 1)]
    try:
        return cls(*args, **kwargs)
    except Exception as exc:
        problem = f"{kind} {path!r} refused the decoded values ({type(exc).__name__})"
        raise DecodeError(problem) from exc


def _check_fields(cls: type, path: str, given: dict[str, Any]) -> None:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unexpected = sorted(set(given) - set(fields))
    if unexpected:
        raise DecodeError(f"dataclass {path!r} has no init field(s) {_names(unexpected)}")
    missing = [
        name
        for name, f in fields.items()
        if name not in given
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise DecodeError(f"dataclass {path!r} is missing field(s) {_names(missing)}")


def _resolve(path: Any, kind: TypeKind, resolve: TypeResolver) -> type:
    if not is_class_path(path):
        raise DecodeError(f"{kind} class path {_short(path)} is not of the form 'module:QualName'")
    if kind == "exception" and path in _BUILTIN_EXCEPTIONS:
        return _BUILTIN_EXCEPTIONS[path]
    try:
        cls = resolve(path, kind)
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"{kind} {path!r} could not be resolved ({type(exc).__name__})") from exc
    if not is_kind(cls, kind):
        raise DecodeError(f"{kind} {path!r} resolved to something that is not {KIND_NAMES[kind]}")
    return cls


def _names(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names[:5]) + (", ..." if len(names) > 5 else "")


def _short(value: object) -> str:
    text = repr(value) if isinstance(value, str) else f"of type {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."
