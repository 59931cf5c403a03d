"""Class paths in messages, and `loaded_type`, which resolves them without importing."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pytest

from events_celery.classpath import TypeKind, is_class_path, is_kind, loaded_type
from events_celery.errors import DecodeError

HERE = __name__


@dataclass
class Point:
    x: int


class Outer:
    @dataclass
    class Inner:
        y: int


class Color(Enum):
    RED = "red"


class PaymentFailed(Exception):
    pass


def some_function() -> None:
    pass


@pytest.mark.parametrize("value", ["shop:Order", "shop.events:Order.Line", "_a1:_B2", "é:Ü"])
def test_module_colon_qualname_is_a_class_path(value: str) -> None:
    assert is_class_path(value)


@pytest.mark.parametrize(
    "value", ["os.system", "a:b:c", ":X", "x:", "1a:B", "a:B.", "os:path.__dict__x!", "", 7, None]
)
def test_anything_else_is_not_a_class_path(value: Any) -> None:
    assert not is_class_path(value)


@pytest.mark.parametrize(
    ("obj", "kind", "expected"),
    [
        (Point, "dataclass", True),
        (Point(1), "dataclass", False),
        (PaymentFailed, "exception", True),
        (KeyboardInterrupt, "exception", False),
        (Color, "enum", True),
        (Color.RED, "enum", False),
        (Point, "enum", False),
        (some_function, "dataclass", False),
        (int, "exception", False),
    ],
)
def test_is_kind_accepts_only_classes_of_that_kind(
    obj: object, kind: TypeKind, expected: bool
) -> None:
    assert is_kind(obj, kind) is expected


def test_loaded_type_walks_dotted_qualnames() -> None:
    assert loaded_type(f"{HERE}:Outer.Inner", "dataclass") is Outer.Inner
    assert loaded_type(f"{HERE}:Color", "enum") is Color
    assert loaded_type("json.decoder:JSONDecodeError", "exception") is json.JSONDecodeError


def test_loaded_type_refuses_a_class_of_another_kind() -> None:
    with pytest.raises(DecodeError, match="is not an Enum"):
        loaded_type(f"{HERE}:Point", "enum")


def test_loaded_type_never_imports_a_module() -> None:
    assert "antigravity" not in sys.modules

    with pytest.raises(DecodeError, match="module 'antigravity' is not imported"):
        loaded_type("antigravity:Thing", "dataclass")
    assert "antigravity" not in sys.modules


@pytest.mark.parametrize(
    ("path", "match"),
    [
        (f"{HERE}:Nope", "'Nope' not found"),
        (f"{HERE}:Outer.Nope", "'Nope' not found"),
        (f"{HERE}:some_function.__globals__", "'__globals__' not found"),
        (f"{HERE}:some_function", "is not a dataclass"),
        ("os.system", "not of the form 'module:QualName'"),
    ],
)
def test_loaded_type_refuses_what_it_cannot_find_naming_why(path: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        loaded_type(path, "dataclass")
