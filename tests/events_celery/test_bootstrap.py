"""`install(app)`: registering the task once, reading settings, plugging in add-ons."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest
from celery import Celery

from events_celery import bootstrap as bootstrap_module
from events_celery import install
from events_celery.addons import ADDONS_GROUP, Addon
from events_celery.bootstrap import runtime_of
from events_celery.errors import ConfigurationError
from events_celery.publisher import TASK_NAME
from events_celery.runtime import EventsRuntime, attached_runtime
from events_celery.settings import Option
from events_celery.wire import CONTENT_TYPE


def test_install_registers_the_executing_task_with_late_acks(app: Celery) -> None:
    install(app)

    task = app.tasks[TASK_NAME]
    assert TASK_NAME == "events.execute"
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert task.serializer == "json"


def test_installing_twice_keeps_one_runtime_and_one_task(app: Celery) -> None:
    first = install(app)
    task = app.tasks[TASK_NAME]

    second = install(app)

    assert second is first
    assert app.tasks[TASK_NAME] is task
    assert [name for name in app.tasks if name.startswith("events.")] == [TASK_NAME]


def test_installing_again_rereads_the_settings(app: Celery) -> None:
    runtime = install(app)
    app.conf.events_default_queue = "changed"

    install(app)

    assert runtime.settings.default_queue == "changed"


def test_install_returns_the_runtime_that_runtime_of_finds(app: Celery) -> None:
    runtime = install(app)

    assert isinstance(runtime, EventsRuntime)
    assert runtime_of(app) is runtime
    assert runtime.app is app


def test_runtime_of_installs_an_app_that_was_not_installed(app: Celery) -> None:
    runtime = runtime_of(app)

    assert TASK_NAME in app.tasks
    assert runtime_of(app) is runtime


def test_each_app_gets_its_own_runtime_and_task() -> None:
    one = Celery("one", broker="memory://", set_as_current=False)
    two = Celery("two", broker="memory://", set_as_current=False)

    first, second = install(one, default_queue="a"), install(two, default_queue="b")

    assert first is not second
    assert (first.settings.default_queue, second.settings.default_queue) == ("a", "b")
    assert one.tasks[TASK_NAME] is not two.tasks[TASK_NAME]


@pytest.mark.parametrize("given", [None, "app", object(), Celery])
def test_install_refuses_something_that_is_not_a_celery_app(given: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        install(given)  # type: ignore[arg-type]

    assert caught.value.setting == "app"


@pytest.mark.parametrize(
    "arguments",
    [{}, {"signing_key": "secret"}, {"signing_key": "secret", "serializer": "pickle"}],
)
def test_the_app_accepts_json_and_envelope_messages_only(
    app: Celery, arguments: dict[str, Any]
) -> None:
    before = (app.conf.task_serializer, app.conf.result_serializer)

    install(app, **arguments)
    install(app, **arguments)

    assert list(app.conf.accept_content) == ["json", CONTENT_TYPE]
    assert (app.conf.task_serializer, app.conf.result_serializer) == before


def test_the_content_types_an_app_accepts_are_kept(app: Celery) -> None:
    app.conf.accept_content = ["application/json", "msgpack"]

    install(app)

    assert list(app.conf.accept_content) == ["application/json", "msgpack", CONTENT_TYPE]


def test_attached_runtime_refuses_an_app_that_was_never_installed(app: Celery) -> None:
    with pytest.raises(ConfigurationError) as caught:
        attached_runtime(app)

    assert "install(app)" in str(caught.value)


@pytest.fixture
def without_add_ons(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide installed add-ons, as on a machine with events-celery alone."""
    monkeypatch.setattr(bootstrap_module, "entry_points", lambda group: [])


@pytest.mark.usefixtures("without_add_ons")
@pytest.mark.parametrize("name", ["events_routes", "events_retry", "events_dead_letter"])
def test_settings_no_installed_add_on_declares_are_refused(app: Celery, name: str) -> None:
    app.conf[name] = {"anything": "x"}

    with pytest.raises(ConfigurationError) as caught:
        install(app)

    assert caught.value.setting == name
    assert "once the add-on is installed" in str(caught.value)


def test_install_plugs_in_every_registered_add_on_in_the_order_of_their_names(
    app: Celery,
) -> None:
    registered = sorted(entry.name for entry in entry_points(group=ADDONS_GROUP))

    assert install(app).addons.names == tuple(registered)


class Tagging(Addon):
    """A test add-on with a setting of its own."""

    name = "tagging"
    options = (Option("events_tag", "none", "A tag.", lambda value: str(value).upper()),)

    def setup(self, runtime: EventsRuntime) -> None:
        self.tag = runtime.settings.value("events_tag")


def test_an_add_on_given_to_install_declares_its_settings_and_reads_them_validated(
    app: Celery,
) -> None:
    app.conf.events_tag = "blue"
    tagging = Tagging()

    runtime = install(app, addons=[tagging])

    assert runtime.addons.names[-1] == "tagging"
    assert tagging.tag == "BLUE"
    assert runtime.settings.value("events_tag") == "BLUE"


def test_a_misspelled_add_on_setting_is_refused_suggesting_the_declared_name(
    app: Celery,
) -> None:
    app.conf.events_tga = "blue"

    with pytest.raises(ConfigurationError) as caught:
        install(app, addons=[Tagging()])

    assert caught.value.setting == "events_tga"
    assert "did you mean 'events_tag'?" in str(caught.value)


def test_an_add_on_setting_is_refused_when_its_add_on_is_not_installed(app: Celery) -> None:
    app.conf.events_tag = "blue"

    with pytest.raises(ConfigurationError) as caught:
        install(app)

    assert caught.value.setting == "events_tag"


def test_add_ons_given_once_stay_installed_when_install_runs_again(app: Celery) -> None:
    install(app, addons=[Tagging()])
    app.conf.events_tag = "green"

    runtime = install(app)

    addon = runtime.addon(Tagging)
    assert addon is not None
    assert addon.tag == "GREEN"


def test_two_different_add_ons_with_one_name_are_refused(app: Celery) -> None:
    class Impostor(Addon):
        name = "tagging"

    with pytest.raises(ConfigurationError) as caught:
        install(app, addons=[Tagging(), Impostor()])

    assert "'tagging'" in str(caught.value)


def test_two_add_ons_declaring_one_setting_are_refused(app: Celery) -> None:
    class Twin(Addon):
        name = "twin"
        options = (Option("events_tag", None, "The same setting."),)

    with pytest.raises(ConfigurationError) as caught:
        install(app, addons=[Tagging(), Twin()])

    assert caught.value.setting == "events_tag"


@pytest.mark.parametrize("given", [object(), Tagging])
def test_install_refuses_add_ons_that_are_not_addon_instances(app: Celery, given: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        install(app, addons=[given])

    assert caught.value.setting == "addons"
