"""The pickle codec: base64 pickles, and the body field it writes."""

from __future__ import annotations

import base64
import pickle
from typing import Any

import pytest

from events_celery.codecs.pickle import PickleCodec, decode_pickle, encode_pickle
from events_celery.errors import DecodeError, EncodeError


class PlainThing:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlainThing)

    __hash__ = object.__hash__


def test_pickle_carries_what_json_cannot() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    value = {"thing": PlainThing(), "loop": loop}
    text = encode_pickle(value)
    assert isinstance(text, str)
    decoded = decode_pickle(text)
    assert decoded["thing"] == PlainThing()
    assert decoded["loop"][1] is decoded["loop"]


def test_pickle_uses_protocol_5() -> None:
    assert base64.b64decode(encode_pickle([1]))[:2] == b"\x80\x05"


def test_unpicklable_values_raise_encode_error() -> None:
    with pytest.raises(EncodeError, match="pickled"):
        encode_pickle(lambda: None)


@pytest.mark.parametrize(
    "text",
    [
        "not base64!",
        base64.b64encode(b"garbage").decode(),
        encode_pickle([1, 2])[:-8],
        base64.b64encode(pickle.dumps(1)[:-1] + b"\x00").decode(),
        base64.b64encode(b"cnope\nNope\n.").decode(),
        7,
    ],
)
def test_bad_pickle_text_raises_decode_error(text: Any) -> None:
    with pytest.raises(DecodeError, match="pickle"):
        decode_pickle(text)


# the codec's body field


def test_the_pickle_codec_writes_one_field_holding_the_pair_args_kwargs() -> None:
    fields = PickleCodec().encode((PlainThing(),), {"n": 1})

    assert list(fields) == ["pickle"]
    assert decode_pickle(fields["pickle"]) == ((PlainThing(),), {"n": 1})


def test_the_pickle_codec_reads_back_its_field_without_a_resolver() -> None:
    codec = PickleCodec()

    assert codec.decode(codec.encode(({1, 2},), {"n": 1}), None) == (({1, 2},), {"n": 1})


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({}, "'pickle' must be a string"),
        ({"pickle": 5}, "'pickle' must be a string"),
        ({"pickle": encode_pickle([(), {}])}, "must be a pair"),
        ({"pickle": encode_pickle(((), {}, 1))}, "must be a pair"),
        ({"pickle": encode_pickle(([], {}))}, "must be a pair"),
        ({"pickle": encode_pickle(((), []))}, "must be a pair"),
    ],
)
def test_the_pickle_codec_refuses_fields_of_the_wrong_shape(
    fields: dict[str, Any], match: str
) -> None:
    with pytest.raises(DecodeError, match=match):
        PickleCodec().decode(fields, None)


def test_the_pickle_codec_is_unsafe() -> None:
    assert (PickleCodec.name, PickleCodec.unsafe) == ("pickle", True)
