"""The codec registry: codecs chosen by name, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from events_celery import codecs
from events_celery.classpath import TypeResolver
from events_celery.codecs import CodecRegistry
from events_celery.codecs.json import JsonCodec
from events_celery.codecs.pickle import PickleCodec
from events_celery.errors import ConfigurationError, UnknownCodecError


class ReprCodec:
    """A toy codec: the payload as its repr (never decoded)."""

    name = "repr"
    unsafe = False

    def encode(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return {"repr": repr((args, kwargs))}

    def decode(
        self, fields: Mapping[str, Any], resolve: TypeResolver | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        raise NotImplementedError


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
    codec = ReprCodec()

    registry.register(codec)

    assert registry.get("repr") is codec
    assert registry.names() == ("repr",)
    registry.unregister("repr")
    assert registry.names() == ()
    with pytest.raises(UnknownCodecError, match="registered: none"):
        registry.get("repr")


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ConfigurationError, match="'json' is already registered"):
        codecs.register(JsonCodec())


def test_a_codec_needs_a_name() -> None:
    nameless = ReprCodec()
    nameless.name = ""

    with pytest.raises(ConfigurationError, match="name must be a string"):
        CodecRegistry().register(nameless)


def test_unregistering_an_unknown_name_raises() -> None:
    with pytest.raises(UnknownCodecError):
        CodecRegistry().unregister("repr")


def test_the_module_functions_use_the_default_registry() -> None:
    codecs.register(ReprCodec())
    try:
        assert codecs.names() == ("json", "pickle", "repr")
        assert codecs.get("repr").encode((1,), {}) == {"repr": "((1,), {})"}
    finally:
        codecs.unregister("repr")
    assert "repr" not in codecs.registry
