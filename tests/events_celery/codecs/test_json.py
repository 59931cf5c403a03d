"""The json codec: tagged JSON for what JSON lacks, and the body fields it writes."""

from __future__ import annotations

import dataclasses
import json
import math
import socket
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events_celery.classpath import TypeKind, loaded_type
from events_celery.codecs.json import (
    MAX_DEPTH,
    MAX_INT_BITS,
    JsonCodec,
    decode_json,
    encode_json,
)
from events_celery.errors import DecodeError, EncodeError

HERE = __name__


@dataclass
class Point:
    x: Any
    y: Any = None


@dataclass(frozen=True)
class Tag:
    name: str


@dataclass
class Order:
    id: Any
    items: Any = field(default_factory=list)
    count: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.count = len(self.items) if isinstance(self.items, list) else -1


@dataclass
class Picky:
    amount: int

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("negative")


class Outer:
    @dataclass
    class Inner:
        value: Any


class Color(Enum):
    RED = "red"
    GREEN = "green"


class Corner(Enum):
    ORIGIN = (0, 0)
    FAR = (1, b"\x01")


class Priority(IntEnum):
    LOW = 1
    HIGH = 2


class PaymentFailed(Exception):
    pass


class NeedsTwo(Exception):
    def __init__(self, a: object, b: object) -> None:
        super().__init__(a, b)


class PlainThing:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlainThing)

    __hash__ = object.__hash__


def some_function() -> None:
    pass


def path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def roundtrip(value: Any) -> Any:
    encoded = json.loads(json.dumps(encode_json(value), allow_nan=False))
    return decode_json(encoded, loaded_type)


def assert_same(a: Any, b: Any) -> None:
    """Equal, of the same types all the way down; exceptions compared by type and args."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, BaseException):
        assert_same(a.args, b.args)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert len(a) == len(b)
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            assert_same(ka, kb)
            assert_same(va, vb)
    elif isinstance(a, (set, frozenset)):
        assert a == b
        assert sorted(type(x).__name__ for x in a) == sorted(type(x).__name__ for x in b)
    elif isinstance(a, (float, Decimal)):
        assert repr(a) == repr(b)
    elif isinstance(a, (datetime, time)):
        assert a == b
        assert a.utcoffset() == b.utcoffset()
    else:
        assert a == b


offsets = st.integers(-86399, 86399).map(lambda s: timezone(timedelta(seconds=s)))
hashable_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.binary(max_size=5)
    | st.datetimes(timezones=st.none() | offsets)
    | st.dates()
    | st.times(timezones=st.none() | offsets)
    | st.timedeltas()
    | st.uuids()
    | st.decimals(allow_nan=False)
    | st.sampled_from(Color)
    | st.sampled_from(Corner)
    | st.sampled_from(Priority)
    | st.builds(Tag, st.text(max_size=5))
)
hashables = st.recursive(
    hashable_leaves,
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
reserved_keys = st.sampled_from(["__t", "v", "c"]) | st.text(max_size=5)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    small = st.lists(children, max_size=3)
    return (
        small
        | small.map(tuple)
        | st.sets(hashables, max_size=3)
        | st.frozensets(hashables, max_size=3)
        | st.dictionaries(reserved_keys, children, max_size=3)
        | st.dictionaries(hashables, children, max_size=3)
        | st.builds(Point, children, children)
        | st.builds(Order, children, small)
        | st.builds(Outer.Inner, children)
        | small.map(lambda args: PaymentFailed(*args))
        | small.map(lambda args: ValueError(*args))
    )


payloads = st.recursive(hashable_leaves, containers, max_leaves=25)


@settings(max_examples=300)
@given(payloads)
def test_every_supported_value_round_trips_with_its_types(value: Any) -> None:
    assert_same(value, roundtrip(value))


@given(payloads)
def test_encoded_output_is_plain_json_that_survives_a_json_round_trip(value: Any) -> None:
    encoded = encode_json(value)
    assert json.loads(json.dumps(encoded, allow_nan=False)) == encoded


@pytest.mark.parametrize(
    "value",
    [True, False, 1, 0, -(2**63), 2**63 - 1, "text", None, 1.5, -0.0, [1, "a"], {"a": [1]}],
)
def test_plain_json_values_are_kept_as_they_are(value: Any) -> None:
    assert_same(encode_json(value), value)


def test_bool_stays_bool_and_int_enum_stays_an_enum() -> None:
    decoded = roundtrip([True, 1, Priority.HIGH, Color.RED])
    assert_same(decoded, [True, 1, Priority.HIGH, Color.RED])
    assert encode_json(Priority.HIGH) == {"__t": "enum", "c": path(Priority), "v": 2}


def test_each_tagged_type_has_a_compact_tag() -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    assert encode_json((1,)) == {"__t": "tuple", "v": [1]}
    assert encode_json(frozenset([1])) == {"__t": "frozenset", "v": [1]}
    assert encode_json(date(2024, 5, 1)) == {"__t": "date", "v": "2024-05-01"}
    assert encode_json(time(8, 5)) == {"__t": "time", "v": "08:05:00"}
    ident = UUID(int=1)
    assert encode_json(ident) == {"__t": "uuid", "v": "00000000-0000-0000-0000-000000000001"}
    assert encode_json(Color.RED) == {"__t": "enum", "c": path(Color), "v": "red"}
    assert encode_json(b"hi") == {"__t": "bytes", "v": "aGk="}
    assert encode_json(when) == {"__t": "datetime", "v": "2024-05-01T12:30:00+02:00"}
    assert encode_json(timedelta(days=1, seconds=2)) == {"__t": "timedelta", "v": [1, 2, 0]}
    assert encode_json(Decimal("1.10")) == {"__t": "decimal", "v": "1.10"}
    assert encode_json(float("-inf")) == {"__t": "float", "v": "-inf"}
    assert encode_json(2**64) == {"__t": "int", "v": "10000000000000000"}
    assert encode_json({1: "a"}) == {"__t": "dict", "v": [[1, "a"]]}
    assert encode_json(Point(1)) == {
        "__t": "dataclass",
        "c": path(Point),
        "v": {"x": 1, "y": None},
    }
    assert encode_json(ValueError("x")) == {
        "__t": "exception",
        "c": "builtins:ValueError",
        "v": ["x"],
    }


def test_a_plain_dict_holding_the_reserved_key_round_trips() -> None:
    value = {"__t": "tuple", "v": [1, 2]}
    assert encode_json(value)["__t"] == "dict"
    assert_same(roundtrip(value), value)


def test_aware_and_naive_datetimes_keep_their_offset() -> None:
    aware = datetime(2024, 1, 1, 8, 0, 0, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    naive = datetime(2024, 1, 1, 8, 0)
    assert_same(roundtrip([aware, naive]), [aware, naive])
    assert roundtrip(aware).utcoffset() == timedelta(hours=-5, minutes=-30)
    assert roundtrip(naive).tzinfo is None


def test_offsets_with_fractions_of_a_second_are_refused_not_shifted() -> None:
    odd = timezone(timedelta(seconds=1, microseconds=5))
    for value in (datetime(2024, 1, 1, tzinfo=odd), time(1, tzinfo=odd)):
        with pytest.raises(EncodeError, match="fraction of a second"):
            encode_json([value])


def test_non_finite_floats_and_decimals_round_trip() -> None:
    nan, inf, neg_inf = roundtrip([float("nan"), float("inf"), float("-inf")])
    assert math.isnan(nan)
    assert (inf, neg_inf) == (math.inf, -math.inf)
    dnan, snan, dinf = roundtrip([Decimal("NaN"), Decimal("-sNaN"), Decimal("-Infinity")])
    assert dnan.is_qnan()
    assert snan.is_snan()
    assert snan.is_signed()
    assert dinf == Decimal("-Infinity")


def test_huge_ints_round_trip_through_json() -> None:
    values = [10**5000, -(10**5000), 2**63, -(2**63) - 1]
    assert_same(roundtrip(values), values)


def test_dataclass_fields_that_are_not_init_fields_are_recomputed() -> None:
    order = Order(7, [1, 2, 3])
    assert "count" not in encode_json(order)["v"]
    decoded = roundtrip(order)
    assert decoded == order
    assert decoded.count == 3


def test_builtin_exceptions_are_resolved_without_the_resolver() -> None:
    def refuse(path: str, kind: TypeKind) -> type:
        raise DecodeError(f"refused {path}")

    decoded = decode_json(encode_json([KeyError("k"), ValueError("v", 1)]), refuse)
    assert_same(decoded, [KeyError("k"), ValueError("v", 1)])


def test_every_class_path_goes_to_the_resolver_with_its_kind() -> None:
    calls: list[tuple[str, str]] = []

    def recording(path: str, kind: TypeKind) -> type:
        calls.append((path, kind))
        return loaded_type(path, kind)

    decode_json(encode_json([Point(Color.RED), PaymentFailed(1)]), recording)
    assert calls == [
        (path(Point), "dataclass"),
        (path(Color), "enum"),
        (path(PaymentFailed), "exception"),
    ]


def test_shared_references_that_are_not_cycles_encode() -> None:
    shared = [1]
    assert_same(roundtrip([shared, shared]), [[1], [1]])


# Encoding errors


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (object(), "builtins.object"),
        (some_function, "builtins.function"),
        (PlainThing, "builtins.type"),
        (PlainThing(), "PlainThing"),
        ((n for n in range(3)), "builtins.generator"),
        (bytearray(b"x"), "builtins.bytearray"),
        (KeyboardInterrupt(), "builtins.KeyboardInterrupt"),
    ],
)
def test_unsupported_values_raise_encode_error_naming_their_type(
    value: Any, type_name: str
) -> None:
    with pytest.raises(EncodeError) as caught:
        encode_json({"args": [value]})
    assert caught.value.where == "['args'][0]"
    assert type_name in caught.value.problem


def test_a_socket_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(EncodeError, match=r"socket"):
        encode_json(sock)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (object(), "value"),
        ([Order(1, [1, 2, object()])], "[0].items[2]"),
        ({"when": object()}, "['when']"),
        ({"args": (Point(1, Color), 2)}, "['args'][0].y"),
        (Point(object()), ".x"),
        ([PaymentFailed("a", object())], "[0].args[1]"),
        ([Corner.ORIGIN, Point([Color.RED, {1: object()}])], "[1].x[1][1]"),
        ({"k": {(1, 2): object()}}, "['k'][<tuple key>]"),
        ({"k": {(1, 2): 3, object(): 4}}, "['k']<key #1>"),
        ({"s": {1, 2}, "t": (frozenset([some_function]),)}, "['t'][0]{#0}"),
    ],
)
def test_encode_error_says_where_the_value_is(value: Any, where: str) -> None:
    with pytest.raises(EncodeError) as caught:
        encode_json(value)
    assert caught.value.where == where


def test_self_referencing_structures_raise_encode_error_not_recursion_error() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(EncodeError, match="circular") as caught:
        encode_json(loop)
    assert caught.value.where == "[1]"
    mapping: dict[str, Any] = {}
    mapping["me"] = mapping
    with pytest.raises(EncodeError, match="circular"):
        encode_json(mapping)
    point = Point(1)
    point.y = [point]
    with pytest.raises(EncodeError, match="circular"):
        encode_json(point)


def nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def test_nesting_up_to_the_limit_round_trips_and_deeper_is_refused() -> None:
    assert roundtrip(nested(MAX_DEPTH)) == nested(MAX_DEPTH)
    with pytest.raises(EncodeError, match="deeper"):
        encode_json(nested(MAX_DEPTH + 1))


def test_a_class_defined_in_a_function_is_refused() -> None:
    @dataclass
    class Local:
        x: int

    with pytest.raises(EncodeError, match="import path"):
        encode_json([Local(1)])


# Decoding errors


def expect_decode_error(data: Any, match: str, resolve: Any = loaded_type) -> DecodeError:
    with pytest.raises(DecodeError, match=match) as caught:
        decode_json(data, resolve)
    return caught.value


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"__t": "eval", "v": "1"}, "unknown tag 'eval'"),
        ({"__t": 5, "v": 1}, "unknown tag of type int"),
        ({"__t": ["tuple"], "v": []}, "unknown tag of type list"),
        ({"__t": "tuple"}, "exactly the keys"),
        ({"__t": "tuple", "v": [], "x": 1}, "exactly the keys"),
        ({"__t": "enum", "v": 1}, "exactly the keys"),
        ({"__t": "tuple", "v": "ab"}, "needs a list"),
        ({"__t": "set", "v": [[1]]}, "unhashable"),
        ({"__t": "dict", "v": [[1]]}, r"\[key, value\] pairs"),
        ({"__t": "dict", "v": [[[1], 2]]}, "unhashable"),
        ({"__t": "bytes", "v": "not base64!"}, "invalid bytes"),
        ({"__t": "bytes", "v": 5}, "invalid bytes"),
        ({"__t": "datetime", "v": "yesterday"}, "invalid datetime"),
        ({"__t": "date", "v": "2024-13-01"}, "invalid date"),
        ({"__t": "time", "v": "25:00"}, "invalid time"),
        ({"__t": "timedelta", "v": [1, 2]}, "invalid timedelta"),
        ({"__t": "timedelta", "v": [True, 0, 0]}, "invalid timedelta"),
        ({"__t": "timedelta", "v": [10**12, 0, 0]}, "invalid timedelta"),
        ({"__t": "uuid", "v": "nope"}, "invalid uuid"),
        ({"__t": "decimal", "v": "one"}, "invalid decimal"),
        ({"__t": "float", "v": "1.5"}, "invalid float"),
        ({"__t": "int", "v": "0x10"}, "invalid int"),
        ({"__t": "int", "v": 16}, "invalid int"),
        ({1: 2}, "non-string key"),
        ((1, 2), "tuple"),
        (b"raw", "bytes"),
        (object(), "object"),
        ({"a": [{"b": {1, 2}}]}, "set"),
    ],
)
def test_malformed_input_raises_decode_error_naming_the_problem(data: Any, match: str) -> None:
    expect_decode_error(data, match)


@pytest.mark.parametrize(
    "data",
    [
        nested(MAX_DEPTH + 1),
        nested(10_000),
        {"__t": "tuple", "v": [nested(MAX_DEPTH)]},
    ],
)
def test_absurdly_deep_input_raises_decode_error_not_recursion_error(data: Any) -> None:
    expect_decode_error(data, "deeper")


def test_deeply_nested_tags_are_refused() -> None:
    data: Any = 0
    for _ in range(5000):
        data = {"__t": "tuple", "v": [data]}
    expect_decode_error(data, "deeper")


def test_a_path_to_a_module_that_is_not_imported_is_refused_without_importing_it() -> None:
    assert "antigravity" not in sys.modules
    for tag in ("dataclass", "exception", "enum"):
        value: Any = {} if tag == "dataclass" else []
        data = {"__t": tag, "c": "antigravity:Thing", "v": value}
        expect_decode_error(data, "'antigravity' is not imported")
    assert "antigravity" not in sys.modules


@pytest.mark.parametrize(
    ("tag", "class_path", "value"),
    [
        ("dataclass", f"{HERE}:some_function", {}),
        ("dataclass", f"{HERE}:PlainThing", {}),
        ("dataclass", "builtins:int", {}),
        ("exception", "os:system", ["echo"]),
        ("exception", "builtins:KeyboardInterrupt", []),
        ("exception", f"{HERE}:Point", [1]),
        ("enum", f"{HERE}:Point", 1),
        ("enum", "builtins:int", 1),
        ("dataclass", f"{HERE}:Nope", {}),
        ("dataclass", f"{HERE}:Outer.Nope", {}),
        ("dataclass", f"{HERE}:some_function.__globals__", {}),
    ],
)
def test_a_path_to_something_not_of_the_claimed_kind_is_refused(
    tag: str, class_path: str, value: Any
) -> None:
    expect_decode_error({"__t": tag, "c": class_path, "v": value}, "not|not found")


@pytest.mark.parametrize("class_path", ["os.system", "a:b:c", ":X", "x:", "os:path.__dict__x!", 7])
def test_malformed_class_paths_are_refused_before_resolving(class_path: Any) -> None:
    def never(path: str, kind: TypeKind) -> type:
        raise AssertionError("resolver called")

    expect_decode_error({"__t": "dataclass", "c": class_path, "v": {}}, "module:QualName", never)


@pytest.mark.parametrize("returned", [some_function, PlainThing, int, Color, "Point", None])
def test_what_the_resolver_returns_is_checked_against_the_claimed_kind(returned: Any) -> None:
    def careless(path: str, kind: TypeKind) -> Any:
        return returned

    data = {"__t": "dataclass", "c": path(Point), "v": {"x": 1}}
    expect_decode_error(data, "is not a dataclass", careless)


def test_a_resolver_that_refuses_stops_decoding() -> None:
    def refuse(path: str, kind: TypeKind) -> type:
        raise DecodeError(f"{kind} {path} is not subscribed")

    expect_decode_error(encode_json([Point(1)]), "not subscribed", refuse)


def test_a_resolver_raising_another_error_is_wrapped_in_decode_error() -> None:
    def broken(path: str, kind: TypeKind) -> type:
        raise KeyError(path)

    error = expect_decode_error(encode_json(Point(1)), "could not be resolved", broken)
    assert isinstance(error.__cause__, KeyError)


def test_a_dataclass_with_unexpected_fields_is_refused() -> None:
    data = {"__t": "dataclass", "c": path(Point), "v": {"x": 1, "z": 2, "__class__": 3}}
    expect_decode_error(data, r"Point'? has no init field\(s\) '__class__', 'z'")
    data = {"__t": "dataclass", "c": path(Order), "v": {"id": 1, "count": 3}}
    expect_decode_error(data, "Order'? has no init field")


def test_a_dataclass_with_missing_fields_is_refused() -> None:
    expect_decode_error({"__t": "dataclass", "c": path(Point), "v": {}}, r"missing field\(s\) 'x'")
    expect_decode_error({"__t": "dataclass", "c": path(Point), "v": [1]}, "object of its fields")


def test_a_dataclass_whose_constructor_raises_gives_decode_error_with_the_cause() -> None:
    data = {"__t": "dataclass", "c": path(Picky), "v": {"amount": -1}}
    error = expect_decode_error(data, path(Picky))
    assert isinstance(error.__cause__, ValueError)


def test_an_enum_with_an_unknown_value_is_refused() -> None:
    error = expect_decode_error({"__t": "enum", "c": path(Color), "v": "blue"}, path(Color))
    assert isinstance(error.__cause__, ValueError)


def test_an_exception_whose_constructor_raises_is_refused() -> None:
    data = {"__t": "exception", "c": path(NeedsTwo), "v": [1]}
    error = expect_decode_error(data, path(NeedsTwo))
    assert isinstance(error.__cause__, TypeError)
    expect_decode_error({"__t": "exception", "c": path(NeedsTwo), "v": {}}, "list of args")


# the codec's body fields


def test_the_json_codec_writes_args_as_a_list_and_kwargs_as_an_object() -> None:
    fields = JsonCodec().encode((1, (2, 3)), {"when": date(2024, 6, 1)})

    assert fields == {
        "args": [1, {"__t": "tuple", "v": [2, 3]}],
        "kwargs": {"when": {"__t": "date", "v": "2024-06-01"}},
    }


def test_the_json_codec_reads_back_its_fields() -> None:
    codec = JsonCodec()

    args, kwargs = codec.decode(codec.encode((Point(1),), {"n": {1, 2}}), loaded_type)

    assert args == (Point(1),)
    assert kwargs == {"n": {1, 2}}


def test_the_json_codec_names_where_a_payload_value_is() -> None:
    codec = JsonCodec()

    with pytest.raises(EncodeError, match=r"cannot encode args\[1\]\.x: "):
        codec.encode((1, Point(PlainThing())), {})
    with pytest.raises(EncodeError, match=r"cannot encode kwargs\['when'\]: "):
        codec.encode((), {"when": PlainThing()})


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"kwargs": {}}, "must be a list and an object"),
        ({"args": [], "kwargs": []}, "must be a list and an object"),
        ({"args": {"__t": "tuple", "v": []}, "kwargs": {}}, "must be a list and an object"),
        ({"args": [], "kwargs": {"__t": "tuple", "v": []}}, "must be a list and a mapping"),
    ],
)
def test_the_json_codec_refuses_fields_of_the_wrong_shape(
    fields: dict[str, Any], match: str
) -> None:
    with pytest.raises(DecodeError, match=match):
        JsonCodec().decode(fields, loaded_type)


def test_the_json_codec_needs_a_resolver() -> None:
    with pytest.raises(DecodeError, match="needs a type resolver"):
        JsonCodec().decode({"args": [], "kwargs": {}}, None)


def test_the_json_codec_is_safe() -> None:
    assert (JsonCodec.name, JsonCodec.unsafe) == ("json", False)


def test_an_integer_beyond_the_bound_is_refused_when_encoding() -> None:
    with pytest.raises(EncodeError, match=f"more than {MAX_INT_BITS} bits"):
        encode_json([2 ** (MAX_INT_BITS + 1)])


def test_a_tagged_integer_beyond_the_bound_is_refused_before_it_is_parsed() -> None:
    huge = {"__t": "int", "v": "f" * (MAX_INT_BITS // 4 + 2)}

    with pytest.raises(DecodeError, match="invalid int value"):
        decode_json([huge], lambda path, kind: object)
