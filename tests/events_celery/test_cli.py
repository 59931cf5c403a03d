from __future__ import annotations

import os

import pytest
from celery import Celery

import events_celery
from events_celery.cli import build_parser, main


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("EVENTS_"):
            monkeypatch.delenv(name)


def test_without_a_broker_url_the_command_exits_with_2_and_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["worker", "--handlers", "json"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("events-celery: EVENTS_BROKER_URL: no broker URL")
    assert "-b URL" in err
    assert "Traceback" not in err


def test_the_broker_url_may_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENTS_BROKER_URL", "memory://")

    status = main(["worker", "--handlers", "no_such_module_for_events_tests"])

    err = capsys.readouterr().err
    assert status == 2
    assert "EVENTS_BROKER_URL" not in err
    assert "cannot import 'no_such_module_for_events_tests'" in err


def test_an_unimportable_handler_module_exits_with_2_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["worker", "-b", "memory://", "--handlers", "no_such_module_for_events_tests"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("events-celery: --handlers: cannot import ")
    assert "'no_such_module_for_events_tests'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "handlers",
    [
        ["--handlers", "json,no_such_module_for_events_tests"],
        ["--handlers", "json", "--handlers", "no_such_module_for_events_tests"],
    ],
)
def test_handler_modules_may_be_repeated_or_separated_by_commas(
    handlers: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["worker", "-b", "memory://", *handlers])

    assert status == 2
    assert "'no_such_module_for_events_tests'" in capsys.readouterr().err


def test_an_invalid_setting_in_the_environment_exits_with_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENTS_SERIALIZER", "pickle")

    status = main(["worker", "-b", "memory://", "--handlers", "json"])

    assert status == 2
    assert "events_serializer" in capsys.readouterr().err


def test_help_describes_the_worker_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])

    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: events-celery")
    assert "worker" in out


def test_worker_help_lists_its_options_and_environment_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["worker", "--help"])

    assert caught.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for option in ("--handlers", "--broker", "--queues", "--concurrency", "--loglevel"):
        assert option in out
    for variable in ("EVENTS_BROKER_URL", "EVENTS_SIGNING_KEY", "EVENTS_DEFAULT_QUEUE"):
        assert variable in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["serve"],
        ["worker"],
        ["worker", "--handlers", "json", "-c", "many"],
    ],
)
def test_a_wrong_command_line_exits_with_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)

    assert caught.value.code == 2
    assert "usage: events-celery" in capsys.readouterr().err


def test_the_parser_reads_every_worker_option() -> None:
    handlers = ["--handlers", "a,b", "--handlers", "c"]
    argv = ["worker", *handlers, "-b", "memory://", "-Q", "x,y", "-c", "3", "-l", "DEBUG"]

    options = build_parser().parse_args(argv)

    assert options.handlers == ["a,b", "c"]
    assert (options.broker, options.queues, options.concurrency, options.loglevel) == (
        "memory://",
        "x,y",
        3,
        "DEBUG",
    )


def test_the_log_level_defaults_to_info() -> None:
    options = build_parser().parse_args(["worker", "--handlers", "a"])

    assert options.loglevel == "INFO"
    assert options.queues is None
    assert options.concurrency is None


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"events-celery {events_celery.__version__}"


def test_health_of_an_app_that_cannot_be_loaded_exits_with_2_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["health", "-A", "no_such_module_for_events_tests"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("events-celery: -A: cannot load a Celery app from")


def test_health_with_no_worker_exits_with_1_and_one_line_saying_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["health", "-A", "tests.events_celery.test_cli:memory_app", "--timeout", "0.2"])

    err = capsys.readouterr().err
    assert status == 1
    assert err == "events-celery: unhealthy: no worker answered; none consumes 'events'\n"


memory_app = Celery("health-test", broker="memory://", set_as_current=False)
