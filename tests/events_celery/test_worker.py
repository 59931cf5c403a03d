from __future__ import annotations

import sys

import pytest

from events_celery.bootstrap import runtime_of
from events_celery.errors import ConfigurationError
from events_celery.publisher import TASK_NAME
from events_celery.signing import derive_key_id
from events_celery.worker import (
    ENV_BROKER_URL,
    ENV_DEFAULT_QUEUE,
    ENV_RESULT_BACKEND,
    ENV_SERIALIZER,
    ENV_SIGNING_KEY,
    app_from_environment,
    import_handlers,
    worker_argv,
)


def test_worker_argv_consumes_the_given_queues_at_the_given_log_level() -> None:
    assert worker_argv(["events"], platform="linux") == ["worker", "-l", "INFO", "-Q", "events"]


def test_worker_argv_joins_several_queues_with_commas() -> None:
    argv = worker_argv(["orders", "emails", "events"], loglevel="DEBUG", platform="linux")

    assert argv == ["worker", "-l", "DEBUG", "-Q", "orders,emails,events"]


def test_worker_argv_passes_the_concurrency() -> None:
    argv = worker_argv(["events"], concurrency=4, platform="linux")

    assert argv[-2:] == ["-c", "4"]


@pytest.mark.parametrize("platform", ["linux", "darwin", "cygwin", "freebsd14"])
def test_worker_argv_keeps_the_default_pool_off_windows(platform: str) -> None:
    assert not any(arg.startswith("--pool") for arg in worker_argv(["q"], platform=platform))


def test_worker_argv_uses_the_solo_pool_on_windows() -> None:
    argv = worker_argv(["q"], concurrency=2, platform="win32")

    assert argv.count("--pool=solo") == 1
    assert argv[:5] == ["worker", "-l", "INFO", "-Q", "q"]


def test_worker_argv_defaults_to_this_platform() -> None:
    expected = sys.platform == "win32"

    assert ("--pool=solo" in worker_argv(["q"])) is expected


def test_the_app_is_configured_from_the_given_environment() -> None:
    app = app_from_environment(
        environ={
            ENV_BROKER_URL: "memory://",
            ENV_SIGNING_KEY: "new-key,old-key",
            ENV_SERIALIZER: "pickle",
            ENV_DEFAULT_QUEUE: "orders",
            ENV_RESULT_BACKEND: "cache+memory://",
        }
    )

    settings = runtime_of(app).settings
    assert app.conf.broker_url == "memory://"
    assert app.conf.result_backend == "cache+memory://"
    assert settings.serializer == "pickle"
    assert settings.default_queue == "orders"
    assert settings.keyring is not None
    assert settings.keyring.signing_kid == derive_key_id(b"new-key")
    assert set(settings.keyring.keys) == {derive_key_id(b"new-key"), derive_key_id(b"old-key")}
    assert TASK_NAME in app.tasks


def test_empty_items_of_the_key_list_are_ignored() -> None:
    app = app_from_environment(environ={ENV_BROKER_URL: "memory://", ENV_SIGNING_KEY: ",key,,"})

    keyring = runtime_of(app).settings.keyring
    assert keyring is not None
    assert set(keyring.keys) == {derive_key_id(b"key")}


def test_unset_or_empty_variables_leave_the_defaults() -> None:
    app = app_from_environment(
        environ={
            ENV_BROKER_URL: "memory://",
            ENV_SIGNING_KEY: "",
            ENV_SERIALIZER: "",
            ENV_DEFAULT_QUEUE: "",
        }
    )

    settings = runtime_of(app).settings
    assert (settings.keyring, settings.serializer, settings.default_queue) == (
        None,
        "json",
        "events",
    )
    assert not app.conf.result_backend


def test_a_broker_argument_wins_over_the_environment() -> None:
    app = app_from_environment("memory://", environ={ENV_BROKER_URL: "redis://elsewhere:1/0"})

    assert app.conf.broker_url == "memory://"


@pytest.mark.parametrize("environ", [{}, {ENV_BROKER_URL: ""}])
def test_no_broker_url_is_a_configuration_error_naming_the_variable(
    environ: dict[str, str],
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        app_from_environment(environ=environ)

    assert caught.value.setting == ENV_BROKER_URL
    assert "-b URL" in str(caught.value)


def test_an_invalid_setting_in_the_environment_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        app_from_environment(environ={ENV_BROKER_URL: "memory://", ENV_SERIALIZER: "pickle"})

    assert caught.value.setting == "events_serializer"


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_BROKER_URL, "memory://")
    monkeypatch.setenv(ENV_DEFAULT_QUEUE, "from-env")

    app = app_from_environment()

    assert runtime_of(app).settings.default_queue == "from-env"


def test_handler_modules_are_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)

    import_handlers(["json", "colorsys"])

    assert "colorsys" in sys.modules


def test_an_unimportable_handler_module_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        import_handlers(["json", "no_such_module_for_events_tests"])

    assert caught.value.setting == "--handlers"
    assert "cannot import 'no_such_module_for_events_tests'" in str(caught.value)
