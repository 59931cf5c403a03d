from __future__ import annotations

import base64
import json
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from events_celery.body import Body, Meta, decode_body, read_frame, rewrite_for_replay
from events_celery.classpath import TypeKind
from events_celery.errors import DecodeError, EncodeError, UnknownCodecError


class Color(Enum):
    RED = "red"


@dataclass(frozen=True)
class Item:
    sku: str
    color: Color


TYPES: dict[str, type] = {
    f"{__name__}:Item": Item,
    f"{__name__}:Color": Color,
}


def resolve(path: str, kind: TypeKind) -> type:
    """A resolver that knows this module's two classes only."""
    try:
        return TYPES[path]
    except KeyError:
        raise DecodeError(f"unknown type {path}") from None


def body(**changes: Any) -> Body:
    fields: dict[str, Any] = {
        "kind": "name",
        "linker": "events_core.registry:EventLinker",
        "handlers": ("shop.handlers:send_receipt", "shop.handlers:notify"),
        "timestamp": 1718000000.25,
        "headers": {"correlation_id": "c-1"},
        "meta": Meta(attempt=2, queue="orders", first_failure=1718000001.5),
        "args": (1, "two", Item("A-1", Color.RED)),
        "kwargs": {
            "when": datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc),
            "amount": Decimal("9.99"),
            "tags": {"a", "b"},
            "pair": (1, 2),
            "raw": b"\x00\xff",
        },
    }
    fields.update(changes)
    return Body(**fields)


def frame(**changes: Any) -> str:
    """A valid json body's text with some fields changed (a value of ... deletes the field)."""
    data = json.loads(body().encode("json"))
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize("codec", ["json", "pickle"])
def test_a_body_survives_encoding_and_decoding(codec: str) -> None:
    sent = body()

    received = decode_body(sent.encode(codec), codec, resolve)

    assert received == sent
    assert type(received.args) is tuple
    assert received.kwargs["pair"] == (1, 2)
    assert type(received.kwargs["pair"]) is tuple


@pytest.mark.parametrize("codec", ["json", "pickle"])
def test_a_body_without_handler_refs_stays_without_them(codec: str) -> None:
    sent = body(handlers=None)

    assert decode_body(sent.encode(codec), codec, resolve).handlers is None


def test_an_empty_payload_survives_encoding() -> None:
    sent = body(args=(), kwargs={}, headers={})

    assert decode_body(sent.encode("json"), "json", resolve) == sent


def test_the_json_body_is_compact_json_with_the_payload_tagged() -> None:
    text = body(args=((1, 2),), kwargs={"x": 1}).encode("json")
    data = json.loads(text)

    assert ", " not in text
    assert data["kind"] == "name"
    assert data["handlers"] == ["shop.handlers:send_receipt", "shop.handlers:notify"]
    assert data["ts"] == 1718000000.25
    assert data["meta"] == {"attempt": 2, "queue": "orders", "first_failure": 1718000001.5}
    assert data["args"] == [{"__t": "tuple", "v": [1, 2]}]
    assert data["kwargs"] == {"x": 1}
    assert "pickle" not in data


def test_the_pickle_body_carries_the_payload_as_base64_pickle() -> None:
    data = json.loads(body(args=(1,), kwargs={"x": 2}).encode("pickle"))

    assert "args" not in data
    assert "kwargs" not in data
    assert pickle.loads(base64.b64decode(data["pickle"])) == ((1,), {"x": 2})  # noqa: S301


def test_the_pickle_codec_needs_no_resolver() -> None:
    sent = body()

    assert decode_body(sent.encode("pickle"), "pickle", None) == sent


def test_the_json_codec_refuses_to_decode_without_a_resolver() -> None:
    with pytest.raises(DecodeError, match="needs a type resolver"):
        decode_body(body().encode("json"), "json", None)


def test_a_class_the_resolver_refuses_makes_the_body_undecodable() -> None:
    text = body(args=(Item("A-1", Color.RED),)).encode("json")

    def refuse_every_class(path: str, kind: TypeKind) -> type:
        raise DecodeError(f"refused {path}")

    with pytest.raises(DecodeError, match=f"refused {__name__}:Item"):
        decode_body(text, "json", refuse_every_class)


def test_meta_keeps_keys_it_does_not_know() -> None:
    meta = Meta(attempt=3, queue="q", first_failure=None, extra={"origin": "dlq", "n": [1]})

    assert Meta.from_json(meta.to_json()) == meta
    assert Meta.from_json(json.loads(json.dumps(meta.to_json()))) == meta


def test_meta_extra_keys_survive_a_whole_body() -> None:
    sent = body(meta=Meta(attempt=1, queue="", extra={"replayed_from": "abc"}))

    assert decode_body(sent.encode("json"), "json", resolve).meta == sent.meta


def test_meta_own_fields_win_over_extra_keys_of_the_same_name() -> None:
    meta = Meta(attempt=2, extra={"attempt": 99, "queue": "fake"})

    assert meta.to_json()["attempt"] == 2
    assert meta.to_json()["queue"] == ""


def test_meta_reads_an_integer_first_failure_as_a_float() -> None:
    meta = Meta.from_json({"attempt": 1, "queue": "", "first_failure": 5})

    assert meta.first_failure == 5.0
    assert type(meta.first_failure) is float


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (None, "'meta' must be an object"),
        ([], "'meta' must be an object"),
        ({"queue": ""}, "'attempt' must be an integer from 1 to 1000000"),
        ({"attempt": 0, "queue": ""}, "'attempt' must be an integer from 1 to 1000000"),
        ({"attempt": -1, "queue": ""}, "'attempt' must be an integer from 1 to 1000000"),
        ({"attempt": True, "queue": ""}, "'attempt' must be an integer from 1 to 1000000"),
        ({"attempt": 1.0, "queue": ""}, "'attempt' must be an integer from 1 to 1000000"),
        ({"attempt": "1", "queue": ""}, "'attempt' must be an integer from 1 to 1000000"),
        ({"attempt": 1}, "'queue' must be a string"),
        ({"attempt": 1, "queue": 5}, "'queue' must be a string"),
        ({"attempt": 1, "queue": "", "first_failure": True}, "'first_failure' must be"),
        ({"attempt": 1, "queue": "", "first_failure": "now"}, "'first_failure' must be"),
    ],
)
def test_meta_of_the_wrong_shape_is_undecodable(data: object, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        Meta.from_json(data)


def test_read_frame_returns_the_frame_without_decoding_the_payload() -> None:
    data = read_frame(body(args=(Item("A-1", Color.RED),)).encode("json"))

    assert data["linker"] == "events_core.registry:EventLinker"
    assert data["args"][0]["__t"] == "dataclass"


def pickled(value: object) -> str:
    return base64.b64encode(pickle.dumps(value)).decode()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("", "not valid JSON", id="empty"),
        pytest.param("{", "not valid JSON", id="truncated"),
        pytest.param("[" * 100_000, "not valid JSON", id="too-deep"),
        pytest.param("[]", "must be a JSON object", id="list"),
        pytest.param('"text"', "must be a JSON object", id="string"),
        pytest.param("null", "must be a JSON object", id="null"),
    ],
)
def test_read_frame_refuses_text_that_is_not_a_json_object(text: str, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        read_frame(text)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", ...),
        ("kind", "other"),
        ("kind", ["name"]),
        ("kind", {"a": 1}),
        ("linker", ...),
        ("linker", "no_colon"),
        ("linker", 1),
        ("handlers", "shop:h"),
        ("handlers", ["shop:h", 1]),
        ("handlers", {"shop:h": 1}),
        ("ts", ...),
        ("ts", "1718000000"),
        ("ts", True),
        ("ts", None),
        ("headers", ...),
        ("headers", []),
        ("headers", {"a": 1}),
        ("headers", {"a": None}),
    ],
)
def test_read_frame_refuses_a_field_of_the_wrong_shape_naming_it(field: str, value: Any) -> None:
    with pytest.raises(DecodeError, match=f"'{field}'"):
        read_frame(frame(**{field: value}))


@pytest.mark.parametrize(
    ("changes", "codec", "problem"),
    [
        pytest.param({"meta": ...}, "json", "'meta'", id="no-meta"),
        pytest.param({"meta": [1]}, "json", "'meta'", id="meta-list"),
        pytest.param({"args": ...}, "json", "'args' and 'kwargs'", id="no-args"),
        pytest.param({"kwargs": ...}, "json", "'args' and 'kwargs'", id="no-kwargs"),
        pytest.param({"args": {"0": 1}}, "json", "'args' and 'kwargs'", id="args-object"),
        pytest.param({"kwargs": [1]}, "json", "'args' and 'kwargs'", id="kwargs-list"),
        pytest.param(
            {"args": {"__t": "tuple", "v": []}}, "json", "'args' and 'kwargs'", id="args-tagged"
        ),
        pytest.param(
            {"kwargs": {"__t": "tuple", "v": []}},
            "json",
            "decoded 'args' and 'kwargs'",
            id="kwargs-tagged-tuple",
        ),
        pytest.param(
            {"kwargs": {"__t": "dict", "v": [[1, 2]]}},
            "json",
            "names must be strings",
            id="kwargs-int-name",
        ),
        pytest.param({"args": [{"__t": "nope", "v": 1}]}, "json", "unknown tag", id="bad-tag"),
        pytest.param({"args": [{"__t": "set", "v": [[1]]}]}, "json", "unhashable", id="set"),
        pytest.param(
            {"args": [{"__t": "dataclass", "c": "os:Other", "v": {}}]},
            "json",
            "unknown type",
            id="refused-class",
        ),
        pytest.param({}, "pickle", "'pickle' must be a string", id="no-pickle"),
        pytest.param({"pickle": 5}, "pickle", "'pickle' must be a string", id="pickle-int"),
        pytest.param({"pickle": "not base64!"}, "pickle", "cannot be loaded", id="not-base64"),
        pytest.param(
            {"pickle": base64.b64encode(b"garbage").decode()},
            "pickle",
            "cannot be loaded",
            id="not-pickle",
        ),
        pytest.param({"pickle": pickled([(), {}])}, "pickle", "must be a pair", id="list"),
        pytest.param({"pickle": pickled(((), {}, 1))}, "pickle", "must be a pair", id="triple"),
        pytest.param({"pickle": pickled(([], {}))}, "pickle", "must be a pair", id="args-list"),
        pytest.param(
            {"pickle": pickled(((), [("a", 1)]))}, "pickle", "must be a pair", id="kwargs-list"
        ),
        pytest.param(
            {"pickle": pickled(((), {1: "x"}))}, "pickle", "names must be strings", id="int-name"
        ),
    ],
)
def test_decode_body_refuses_a_body_of_the_wrong_shape_with_a_decode_error(
    changes: dict[str, Any], codec: str, problem: str
) -> None:
    with pytest.raises(DecodeError, match=problem):
        decode_body(frame(**changes), codec, resolve)


def test_decode_body_refuses_a_body_without_handlers_with_a_decode_error() -> None:
    text = frame(handlers=...)

    with pytest.raises(DecodeError, match="'handlers'"):
        decode_body(text, "json", resolve)


def test_decode_body_checks_the_frame_before_the_payload() -> None:
    with pytest.raises(DecodeError, match="'linker'"):
        decode_body(frame(linker="bad", args=[{"__t": "nope", "v": 1}]), "json", resolve)


@pytest.mark.parametrize(
    ("literal", "problem"),
    [
        ("NaN", "not valid JSON"),
        ("Infinity", "not valid JSON"),
        ("-Infinity", "not valid JSON"),
        ("1e400", "'ts'"),
        ("1e308", "'ts'"),
        ("-1", "'ts'"),
        ("253402300800", "'ts'"),
    ],
)
def test_read_frame_refuses_a_timestamp_that_is_not_a_time(literal: str, problem: str) -> None:
    text = frame(ts=0).replace('"ts": 0', f'"ts": {literal}')
    assert literal in text

    with pytest.raises(DecodeError, match=problem):
        read_frame(text)


def test_a_bare_nan_anywhere_in_the_body_is_not_json() -> None:
    text = frame(kwargs={"amount": 0}).replace('"amount": 0', '"amount": NaN')
    assert "NaN" in text

    with pytest.raises(DecodeError, match="not valid JSON"):
        decode_body(text, "json", resolve)


@pytest.mark.parametrize("first_failure", [1e300, -5.0, float("inf")])
def test_meta_refuses_a_first_failure_that_is_not_a_time(first_failure: float) -> None:
    with pytest.raises(DecodeError, match="'first_failure' must be a time"):
        Meta.from_json({"attempt": 2, "queue": "q", "first_failure": first_failure})


def test_meta_refuses_an_attempt_beyond_its_bound() -> None:
    with pytest.raises(DecodeError, match="'attempt'"):
        Meta.from_json({"attempt": 10**7, "queue": "q"})


@pytest.mark.parametrize("field_name", ["args", "kwargs"])
def test_a_body_with_too_many_arguments_is_refused_before_its_payload_is_decoded(
    field_name: str,
) -> None:
    many: object = list(range(1025)) if field_name == "args" else {f"k{i}": i for i in range(1025)}
    text = frame(**{field_name: many})

    with pytest.raises(DecodeError, match=f"'{field_name}' holds more than 1024"):
        decode_body(text, "json", resolve)


def test_encoding_too_many_arguments_names_where_and_the_bound() -> None:
    with pytest.raises(EncodeError, match="args") as raised:
        Body("name", "m:L", None, 0.0, {}, Meta(), tuple(range(1025)), {}).encode("json")

    assert "at most 1024" in str(raised.value)


@pytest.mark.parametrize(
    ("args", "kwargs", "where"),
    [
        ((object(),), {}, "args[0]"),
        ((1, [2, object()]), {}, "args[1][1]"),
        ((), {"x": object()}, "kwargs['x']"),
        ((), {"x": {"y": [1, threading.Lock()]}}, "kwargs['x']['y'][1]"),
        ((Item(object(), Color.RED),), {}, "args[0].sku"),  # type: ignore[arg-type]
    ],
)
def test_a_value_the_json_codec_cannot_carry_is_named_where_it_is(
    args: tuple[Any, ...], kwargs: dict[str, Any], where: str
) -> None:
    with pytest.raises(EncodeError) as caught:
        body(args=args, kwargs=kwargs).encode("json")

    assert caught.value.where == where
    assert str(caught.value).startswith(f"cannot encode {where}: ")


def test_a_value_pickle_cannot_carry_is_refused_at_encoding() -> None:
    with pytest.raises(EncodeError, match="cannot be pickled"):
        body(kwargs={"lock": threading.Lock()}).encode("pickle")


def test_pickle_carries_what_json_cannot() -> None:
    sent = body(kwargs={"when": datetime.now(timezone.utc), "big": 2**200, "f": float("inf")})

    received = decode_body(sent.encode("pickle"), "pickle", None)

    assert received.kwargs == sent.kwargs


def test_changing_the_payload_changes_the_text() -> None:
    original = body()

    assert replace(original, args=(2,)).encode("json") != original.encode("json")


@pytest.mark.parametrize("codec", ["yaml", ""])
def test_a_codec_name_that_is_not_registered_is_refused_both_ways(codec: str) -> None:
    with pytest.raises(UnknownCodecError, match=repr(codec)):
        body().encode(codec)
    with pytest.raises(UnknownCodecError, match=repr(codec)):
        decode_body(body().encode("json"), codec, resolve)


def test_a_body_in_a_registered_codec_survives_encoding_and_decoding(
    register_codec: Callable[..., object],
) -> None:
    register_codec("plain")
    sent = body(args=(1, "two"), kwargs={"n": [3]})

    text = sent.encode("plain")

    assert json.loads(text)["plain"] == '[[1, "two"], {"n": [3]}]'
    assert decode_body(text, "plain", None) == sent


# a replay's body


@pytest.mark.parametrize("codec", ["json", "pickle"])
def test_a_replayed_body_starts_again_at_attempt_one_with_the_payload_untouched(
    codec: str,
) -> None:
    sent = body(meta=Meta(attempt=3, queue="orders", first_failure=5.0, extra={"x": 1}))
    original = json.loads(sent.encode(codec))

    replayed = json.loads(rewrite_for_replay(sent.encode(codec), replayed_from="d1"))

    assert replayed["meta"] == {
        "x": 1,
        "replayed_from": "d1",
        "attempt": 1,
        "queue": "orders",
        "first_failure": None,
    }
    assert {k: v for k, v in replayed.items() if k != "meta"} == {
        k: v for k, v in original.items() if k != "meta"
    }


def test_a_replayed_body_runs_the_handlers_it_is_given() -> None:
    text = rewrite_for_replay(body().encode("json"), replayed_from="d1", handlers=["shop:x"])

    received = decode_body(text, "json", resolve)

    assert received.handlers == ("shop:x",)
    assert (received.args, received.kwargs) == (body().args, body().kwargs)


def test_a_body_replayed_twice_names_the_last_dead_letter() -> None:
    once = rewrite_for_replay(body().encode("json"), replayed_from="d1")

    twice = rewrite_for_replay(once, replayed_from="d2")

    assert decode_body(twice, "json", resolve).meta.extra == {"replayed_from": "d2"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "must be a JSON object"),
        (frame(meta=...), "'meta' must be an object"),
        (frame(meta={"attempt": 0, "queue": "q"}), "'attempt' must be an integer from 1"),
    ],
)
def test_a_malformed_body_cannot_be_replayed(text: str, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        rewrite_for_replay(text, replayed_from="d1")
