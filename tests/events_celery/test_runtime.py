from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
from celery import Celery

from events_celery import Envelope, install
from events_celery import runtime as runtime_module
from events_celery.body import Body, Meta, decode_body
from events_celery.errors import ConfigurationError, PublishError
from events_celery.runtime import ADDONS_GROUP, TASK_NAME, EventsRuntime, runtime_of
from events_celery.signing import derive_key_id
from events_core.emission import EventEmission
from tests.events_celery.conftest import unique_queue

Drain = Callable[[str], list[tuple[Any, dict[str, Any]]]]


def body(**changes: Any) -> Body:
    fields: dict[str, Any] = {
        "kind": "name",
        "linker": "events_core.registry:EventLinker",
        "handlers": ("shop.handlers:send_receipt",),
        "timestamp": 1718000000.0,
        "headers": {},
        "meta": Meta(),
        "args": (1,),
        "kwargs": {"secret_payload": "card-4242"},
    }
    fields.update(changes)
    return Body(**fields)


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
def test_the_app_keeps_accepting_json_only(app: Celery, arguments: dict[str, Any]) -> None:
    before = (app.conf.task_serializer, app.conf.result_serializer)

    install(app, **arguments)

    assert list(app.conf.accept_content) == ["json"]
    assert (app.conf.task_serializer, app.conf.result_serializer) == before


@pytest.fixture
def without_add_ons(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide installed add-ons, as on a machine with events-celery alone."""
    monkeypatch.setattr(runtime_module, "entry_points", lambda group: [])


@pytest.mark.usefixtures("without_add_ons")
@pytest.mark.parametrize("name", ["events_routes", "events_retry", "events_dead_letter"])
def test_contrib_settings_without_events_contrib_are_refused(app: Celery, name: str) -> None:
    app.conf[name] = {"anything": "x"}

    with pytest.raises(ConfigurationError) as caught:
        install(app)

    assert caught.value.setting == name
    assert "pip install events-contrib" in str(caught.value)


@pytest.mark.usefixtures("without_add_ons")
def test_dead_letters_turned_off_need_no_events_contrib(app: Celery) -> None:
    app.conf.events_dead_letter = False

    assert install(app).settings.dead_letter is False


def test_install_plugs_in_and_records_every_registered_add_on(app: Celery) -> None:
    registered = {entry.name for entry in entry_points(group=ADDONS_GROUP)}

    assert install(app).addons == registered


def test_without_a_route_every_emission_goes_to_the_default_queue(app: Celery) -> None:
    runtime = install(app, default_queue="orders")

    assert runtime.queue_for(EventEmission("OrderPlaced")) == "orders"
    assert runtime.queue_for(EventEmission("anything.else")) == "orders"


def test_the_default_default_queue_is_events() -> None:
    bare = Celery("utest", broker="memory://", set_as_current=False)

    assert install(bare).queue_for(EventEmission("OrderPlaced")) == "events"


def test_a_route_plugged_into_the_runtime_picks_the_queue(app: Celery) -> None:
    runtime = install(app)
    runtime.route = lambda emission: f"q-{emission.event}"

    assert runtime.queue_for(EventEmission("OrderPlaced")) == "q-OrderPlaced"


def test_sealing_encodes_with_json_by_default_and_leaves_the_envelope_unsigned(
    app: Celery,
) -> None:
    envelope = install(app).seal("a" * 32, "OrderPlaced", body())

    assert (envelope.id, envelope.event, envelope.codec) == ("a" * 32, "OrderPlaced", "json")
    assert (envelope.kid, envelope.sig) == (None, None)
    assert decode_body(envelope.body, "json", lambda path, kind: object) == body()


def test_sealing_signs_when_a_key_is_set(app: Celery) -> None:
    runtime = install(app, signing_key="secret")

    envelope = runtime.seal("a" * 32, "OrderPlaced", body())

    assert envelope.kid == derive_key_id(b"secret")
    envelope.verify(runtime.settings.keyring)


def test_sealing_uses_pickle_when_it_is_configured(app: Celery) -> None:
    runtime = install(app, signing_key="secret", serializer="pickle")

    envelope = runtime.seal("a" * 32, "OrderPlaced", body())

    assert envelope.codec == "pickle"
    assert "pickle" in json.loads(envelope.body)
    envelope.verify(runtime.settings.keyring)


def test_send_publishes_the_envelope_as_the_task_argument(app: Celery, drain: Drain) -> None:
    runtime = install(app)
    queue = unique_queue()
    envelope = runtime.seal("b" * 32, "OrderPlaced", body())

    runtime.send(envelope, queue)

    [(message, headers)] = drain(queue)
    assert Envelope.parse(message) == envelope
    assert headers["task"] == TASK_NAME
    assert headers["id"] == envelope.id


def test_the_task_repr_in_celery_shows_event_and_id_never_the_payload(
    app: Celery, drain: Drain
) -> None:
    runtime = install(app)
    queue = unique_queue()

    runtime.send(runtime.seal("c" * 32, "OrderPlaced", body()), queue)

    [(_, headers)] = drain(queue)
    assert headers["argsrepr"] == f"('OrderPlaced', '{'c' * 32}')"
    assert headers["kwargsrepr"] == "{}"
    assert "card-4242" not in headers["argsrepr"] + headers["kwargsrepr"]


def test_send_with_a_countdown_sets_an_eta(app: Celery, drain: Drain) -> None:
    runtime = install(app)
    queue = unique_queue()

    runtime.send(runtime.seal("d" * 32, "OrderPlaced", body()), queue, countdown=30)

    [(_, headers)] = drain(queue)
    assert headers["eta"] is not None


def test_a_broker_that_cannot_be_used_raises_publish_error_naming_event_and_queue() -> None:
    broken = Celery("utest", broker="no-such-transport://", set_as_current=False)
    runtime = install(broken)

    with pytest.raises(PublishError) as caught:
        runtime.send(runtime.seal("e" * 32, "OrderPlaced", body()), "orders")

    assert caught.value.event == "OrderPlaced"
    assert caught.value.queue == "orders"
    assert "'OrderPlaced'" in str(caught.value)
    assert "'orders'" in str(caught.value)
