"""The codec registry: codecs chosen by name, in one place."""

from __future__ import annotations

from typing import Any

import pytest

from events_celery import codecs
from events_celery.codecs import CodecRegistry
from events_celery.codecs.json import JsonCodec
from events_celery.codecs.pickle import PickleCodec
from events_celery.errors import ConfigurationError, UnknownCodecError
from tests.events_celery.conftest import PlainJsonCodec


def test_json_and_pickle_are_registered_in_that_order() -> None:
    assert codecs.names() == ("json", "pickle")
    assert isinstance(codecs.get("json"), JsonCodec)
    assert isinstance(codecs.get("pickle"), PickleCodec)


@pytest.mark.parametrize("name", ["yaml", "JSON", "", None, ["json"]])
def test_an_unknown_name_raises_a_lookup_error_listing_the_registered_ones(name: Any) -> None:
    with pytest.raises(UnknownCodecError, match=r"\(registered: 'json', 'pickle'\)") as caught:
        codecs.get(name)

    assert isinstance(caught.value, LookupError)
    assert caught.value.name == name


def test_membership_is_by_registered_name_and_never_raises() -> None:
    assert "json" in codecs.registry
    assert "yaml" not in codecs.registry
    assert ["json"] not in codecs.registry


def test_a_registered_codec_is_found_by_name_until_unregistered() -> None:
    registry = CodecRegistry()
    codec = PlainJsonCodec("plain")

    registry.register(codec)

    assert registry.get("plain") is codec
    assert registry.names() == ("plain",)
    registry.unregister("plain")
    assert registry.names() == ()
    with pytest.raises(UnknownCodecError, match="registered: none"):
        registry.get("plain")


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ConfigurationError, match="'json' is already registered"):
        codecs.register(JsonCodec())


@pytest.mark.parametrize("name", ["", None, 5])
def test_a_codec_needs_a_name(name: Any) -> None:
    with pytest.raises(ConfigurationError, match="name must be a string"):
        CodecRegistry().register(PlainJsonCodec(name))


def test_unregistering_an_unknown_name_raises() -> None:
    with pytest.raises(UnknownCodecError):
        CodecRegistry().unregister("plain")


def test_the_module_functions_use_the_default_registry() -> None:
    codecs.register(PlainJsonCodec("plain"))
    try:
        assert codecs.names() == ("json", "pickle", "plain")
        assert codecs.get("plain").encode((1,), {}) == {"plain": "[[1], {}]"}
    finally:
        codecs.unregister("plain")
    assert "plain" not in codecs.registry
