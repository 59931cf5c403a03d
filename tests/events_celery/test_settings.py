from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

import events_core.errors
from events_celery import codecs, install
from events_celery.errors import ConfigurationError
from events_celery.settings import (
    DEFAULT_QUEUE,
    DEFAULT_SERIALIZER,
    OPTIONS,
    EventsSettings,
    Option,
)
from events_celery.signing import derive_key_id


def test_every_setting_has_its_documented_default_when_nothing_is_configured() -> None:
    settings = EventsSettings.from_conf({})

    assert settings.keyring is None
    assert settings.serializer == DEFAULT_SERIALIZER == "json"
    assert settings.default_queue == DEFAULT_QUEUE == "events"
    assert set(settings.values) == set(OPTIONS)


def test_an_untouched_celery_app_reads_as_the_defaults() -> None:
    app = Celery("utest", broker="memory://", set_as_current=False)

    settings = EventsSettings.from_conf(app.conf)

    assert settings == EventsSettings.from_conf({})


def test_a_setting_set_to_none_counts_as_unset() -> None:
    settings = EventsSettings.from_conf(
        {"events_serializer": None, "events_default_queue": None, "events_signing_key": None}
    )

    assert (settings.serializer, settings.default_queue, settings.keyring) == (
        "json",
        "events",
        None,
    )


def test_valid_settings_are_read_from_the_conf() -> None:
    settings = EventsSettings.from_conf(
        {
            "events_signing_key": "secret",
            "events_serializer": "pickle",
            "events_default_queue": "orders",
            "events_extra": {"order.*": "orders"},
        },
        options=[Option("events_extra", None, "A setting an add-on declares.")],
    )

    assert settings.keyring is not None
    assert settings.keyring.signing_kid == derive_key_id(b"secret")
    assert settings.serializer == "pickle"
    assert settings.default_queue == "orders"
    assert settings.value("events_extra") == {"order.*": "orders"}


def test_reading_a_setting_nobody_declares_is_refused_naming_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        EventsSettings.from_conf({}).value("events_retry")

    assert caught.value.setting == "events_retry"


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("events_signing_kye", "events_signing_key"),
        ("events_serialiser", "events_serializer"),
        ("events_default_queues", "events_default_queue"),
        ("EVENTS_SERIALIZER", "events_serializer"),
        ("Events_Signing_Key", "events_signing_key"),
    ],
)
def test_a_misspelled_events_setting_is_refused_naming_it_and_suggesting_the_right_one(
    key: str, suggestion: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        EventsSettings.from_conf({key: "json"})

    assert caught.value.setting == key
    assert f"did you mean {suggestion!r}?" in str(caught.value)
    assert str(caught.value).startswith(f"{key}: unknown setting")


def test_a_bad_setting_is_caught_as_the_core_configuration_error() -> None:
    with pytest.raises(events_core.errors.ConfigurationError) as caught:
        EventsSettings.from_conf({"events_serialiser": "json"})

    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, ValueError)
    assert ConfigurationError is events_core.errors.ConfigurationError


def test_an_unknown_events_setting_with_no_close_match_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        EventsSettings.from_conf({"events_zzzzzzzz": 1})

    message = str(caught.value)
    assert "did you mean" not in message
    for name in OPTIONS:
        assert name in message


def test_settings_of_other_libraries_are_left_alone() -> None:
    settings = EventsSettings.from_conf(
        {"event_serializer": "json", "eventsource": 1, "task_serializer": "json", 3: "x"}
    )

    assert settings.serializer == "json"


def test_a_misspelled_setting_on_a_celery_app_is_refused_at_install(app: Celery) -> None:
    app.conf.events_signing_kye = "secret"

    with pytest.raises(ConfigurationError, match="did you mean 'events_signing_key'"):
        install(app)


def test_an_uppercase_setting_on_a_celery_app_is_refused_at_install(app: Celery) -> None:
    app.conf["EVENTS_SERIALIZER"] = "json"

    with pytest.raises(ConfigurationError) as caught:
        install(app)

    assert caught.value.setting == "EVENTS_SERIALIZER"
    assert "did you mean 'events_serializer'" in str(caught.value)


def test_a_misspelled_setting_under_a_celery_namespace_is_refused() -> None:
    app = Celery("utest", broker="memory://", set_as_current=False)

    class Config:
        CELERY_EVENTS_SIGNING_KYE = "secret"

    app.config_from_object(Config, namespace="CELERY")

    with pytest.raises(ConfigurationError):
        install(app)


def test_a_correct_setting_under_a_celery_namespace_is_read() -> None:
    app = Celery("utest", broker="memory://", set_as_current=False)

    class Config:
        CELERY_EVENTS_SIGNING_KEY = "secret"

    app.config_from_object(Config, namespace="CELERY")

    keyring = install(app).settings.keyring
    assert keyring is not None
    assert keyring.signing_kid == derive_key_id(b"secret")


@pytest.mark.parametrize("value", ["yaml", "JSON", "", 1, ["json"], b"json", True])
def test_a_serializer_other_than_json_or_pickle_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        EventsSettings.from_conf({"events_serializer": value})

    assert caught.value.setting == "events_serializer"
    assert repr(value) in str(caught.value)
    assert "expected 'json' or 'pickle'" in str(caught.value)


def test_the_serializer_may_name_any_registered_codec_and_errors_list_them(
    register_codec: Callable[..., object],
) -> None:
    register_codec("plain")

    assert EventsSettings.from_conf({"events_serializer": "plain"}).serializer == "plain"
    with pytest.raises(ConfigurationError, match="expected 'json', 'pickle' or 'plain'"):
        EventsSettings.from_conf({"events_serializer": "yaml"})


@pytest.mark.parametrize("value", ["", "   ", 5, b"events", ["events"], True])
def test_a_default_queue_that_is_not_a_queue_name_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        EventsSettings.from_conf({"events_default_queue": value})

    assert caught.value.setting == "events_default_queue"


@pytest.mark.parametrize("value", [42, 1.5, True, {"a", "b"}, object()])
def test_a_signing_key_of_the_wrong_type_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        EventsSettings.from_conf({"events_signing_key": value})

    assert caught.value.setting == "events_signing_key"
    assert type(value).__name__ in str(caught.value)


def test_pickle_without_a_signing_key_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        EventsSettings.from_conf({"events_serializer": "pickle"})

    assert caught.value.setting == "events_serializer"
    assert "events_signing_key" in str(caught.value)
    assert "never decode unsigned pickle messages" in str(caught.value)


def test_any_unsafe_codec_without_a_signing_key_is_refused(
    register_codec: Callable[..., object],
) -> None:
    register_codec("risky", unsafe=True)

    with pytest.raises(ConfigurationError, match="the risky codec needs events_signing_key"):
        EventsSettings.from_conf({"events_serializer": "risky"})


@pytest.mark.parametrize(
    ("serializer", "key", "accepted"),
    [
        ("json", None, {"json", "plain"}),
        ("json", "k", {"json", "plain"}),
        ("pickle", "k", {"json", "pickle", "plain"}),
        ("risky", "k", {"json", "plain", "risky"}),
        ("plain", None, {"json", "plain"}),
    ],
)
def test_a_worker_accepts_every_safe_codec_and_only_the_unsafe_one_it_names(
    register_codec: Callable[..., object], serializer: str, key: str | None, accepted: set[str]
) -> None:
    register_codec("plain")
    register_codec("risky", unsafe=True)
    settings = EventsSettings.from_conf(
        {"events_serializer": serializer, "events_signing_key": key}
    )

    assert {name for name in (*codecs.names(), "yaml") if settings.accepts(name)} == accepted


def test_pickle_with_a_signing_key_is_accepted() -> None:
    settings = EventsSettings.from_conf(
        {"events_serializer": "pickle", "events_signing_key": ["new", "old"]}
    )

    assert settings.serializer == "pickle"
    assert settings.keyring is not None


def test_install_arguments_override_the_app_conf(app: Celery) -> None:
    app.conf.events_serializer = "json"
    app.conf.events_default_queue = "from-conf"
    app.conf.events_signing_key = "conf-key"

    settings = install(
        app, signing_key="argument-key", serializer="pickle", default_queue="from-argument"
    ).settings

    assert settings.serializer == "pickle"
    assert settings.default_queue == "from-argument"
    assert settings.keyring is not None
    assert settings.keyring.signing_kid == derive_key_id(b"argument-key")
    assert set(settings.keyring.keys) == {derive_key_id(b"argument-key")}


def test_install_arguments_left_out_keep_the_app_conf(app: Celery) -> None:
    app.conf.events_default_queue = "from-conf"
    app.conf.events_signing_key = "conf-key"

    settings = install(app, serializer="json").settings

    assert settings.default_queue == "from-conf"
    assert settings.keyring is not None
    assert settings.keyring.signing_kid == derive_key_id(b"conf-key")


@pytest.mark.parametrize(
    "arguments",
    [{"serializer": "yaml"}, {"default_queue": ""}, {"signing_key": 42}],
)
def test_a_mistyped_install_argument_is_refused(app: Celery, arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        install(app, **arguments)


def test_a_refused_install_argument_leaves_the_app_conf_untouched(app: Celery) -> None:
    with pytest.raises(ConfigurationError):
        install(app, serializer="pickle")

    assert app.conf.get("events_serializer") is None
    assert install(app).settings.serializer == "json"


def test_the_worker_safety_settings_have_their_documented_defaults() -> None:
    settings = EventsSettings.from_conf({})

    assert settings.value("events_max_deliveries") == 3
    assert settings.value("events_handler_time_limit") == 300.0
    assert settings.value("events_max_message_bytes") == 1048576
    assert settings.value("events_accept_tasks") == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("events_max_deliveries", 0),
        ("events_max_deliveries", True),
        ("events_max_deliveries", "3"),
        ("events_handler_time_limit", 0),
        ("events_handler_time_limit", float("inf")),
        ("events_handler_time_limit", "300"),
        ("events_max_message_bytes", 10),
        ("events_accept_tasks", [""]),
        ("events_accept_tasks", 3),
    ],
)
def test_a_worker_safety_setting_of_the_wrong_shape_is_refused_naming_it(
    name: str, value: Any
) -> None:
    with pytest.raises(ConfigurationError, match=name):
        EventsSettings.from_conf({name: value})


def test_accept_tasks_takes_one_name_or_a_list() -> None:
    assert EventsSettings.from_conf({"events_accept_tasks": "celery.*"}).value(
        "events_accept_tasks"
    ) == ("celery.*",)
