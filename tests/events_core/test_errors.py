"""`events_core.errors`: one tree under `EventsError`, with the built-in callers expect."""

from __future__ import annotations

import pytest

import events_core
from events_core import errors
from events_core.errors import (
    ConfigurationError,
    ConfigurationTypeError,
    EventsError,
    UnknownFieldError,
)


def test_a_configuration_error_names_the_setting_and_the_problem() -> None:
    error = ConfigurationError("max_event_handlers", "must be a positive int, got 0")

    assert str(error) == "max_event_handlers: must be a positive int, got 0"
    assert error.setting == "max_event_handlers"
    assert error.problem == "must be a positive int, got 0"
    assert isinstance(error, EventsError)
    assert isinstance(error, ValueError)


def test_a_configuration_type_error_is_a_configuration_error_and_a_type_error() -> None:
    error = ConfigurationTypeError("linker", "must be EventLinker or a subclass of it, got 1")

    assert isinstance(error, ConfigurationError)
    assert isinstance(error, TypeError)
    assert isinstance(error, ValueError)


def test_an_unknown_field_error_lists_the_unknown_and_the_known_fields() -> None:
    error = UnknownFieldError({"b", "a"}, ["id", "event"])

    assert error.unknown == ("a", "b")
    assert str(error) == "EventEmission has no field(s) a, b; its fields are id, event"
    assert isinstance(error, TypeError)


@pytest.mark.parametrize(
    "name",
    [name for name in dir(errors) if name.endswith("Error") and name != "EventsError"],
)
def test_every_core_error_is_an_events_error_exported_from_the_package(name: str) -> None:
    error_class = getattr(errors, name)

    assert issubclass(error_class, EventsError)
    assert name in events_core.__all__
    assert getattr(events_core, name) is error_class
