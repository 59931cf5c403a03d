from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from celery import Celery

from events_celery import CeleryEventEmitter, Envelope, install
from events_celery.addons import Addon, Outgoing
from events_celery.body import Body, decode_body
from events_celery.bootstrap import runtime_of
from events_celery.errors import ConfigurationError, EncodeError, PublishError
from events_celery.publisher import TASK_NAME
from events_celery.signing import derive_key_id
from events_celery.trust import LinkerTypes
from events_core import EventLinker
from events_core.errors import HandlerNotImportableError
from tests.events_celery.conftest import unique_queue

Drain = Callable[[str], list[tuple[Any, dict[str, Any]]]]


@dataclass(frozen=True)
class OrderPlaced:
    order_id: int


def send_receipt(*args: object, **kwargs: object) -> None:
    pass


def notify(*args: object, **kwargs: object) -> None:
    pass


def ref(func: Callable[..., Any]) -> str:
    return f"{func.__module__}:{func.__qualname__}"


def default_queue(app: Celery) -> str:
    return str(runtime_of(app).settings.default_queue)


def only_envelope(drain: Drain, queue: str) -> Envelope:
    messages = drain(queue)
    assert len(messages) == 1, messages
    return Envelope.parse(messages[0][0])


def read_body(envelope: Envelope, linker: type[EventLinker]) -> Body:
    return decode_body(envelope.body, envelope.codec, LinkerTypes(linker))


def test_emit_publishes_one_envelope_whose_body_carries_the_payload(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    linker.on("OrderPlaced", "OrderShipped")(notify)

    emission = CeleryEventEmitter(app, linker=linker).emit(
        "OrderPlaced", 42, "express", amount=9.5, tags=("a", "b")
    )

    assert emission is not None
    envelope = only_envelope(drain, default_queue(app))
    assert (envelope.id, envelope.event, envelope.codec) == (emission.id, "OrderPlaced", "json")
    assert (envelope.kid, envelope.sig) == (None, None)
    body = read_body(envelope, linker)
    assert body.args == (42, "express")
    assert body.kwargs == {"amount": 9.5, "tags": ("a", "b")}
    assert body.handlers == (ref(send_receipt), ref(notify))
    assert body.linker == linker.path()
    assert body.kind == "name"
    assert body.meta.attempt == 1
    assert body.meta.queue == default_queue(app)
    assert body.timestamp == pytest.approx(emission.timestamp.timestamp(), abs=1e-5)


def test_the_emission_returned_describes_what_was_sent(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("OrderPlaced")(send_receipt)

    emission = CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", 1, x=2)

    assert emission is not None
    assert emission.event == "OrderPlaced"
    assert emission.args == (1,)
    assert dict(emission.kwargs) == {"x": 2}
    assert [handler.ref for handler in emission.handlers] == [ref(send_receipt)]
    assert only_envelope(drain, default_queue(app)).id == emission.id


def test_a_class_event_is_sent_under_its_import_path_with_the_instance_first(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on(OrderPlaced)(send_receipt)

    CeleryEventEmitter(app, linker=linker).emit(OrderPlaced(7), note="gift")

    envelope = only_envelope(drain, default_queue(app))
    assert envelope.event == f"{__name__}:OrderPlaced"
    body = read_body(envelope, linker)
    assert body.kind == "class"
    assert body.args == (OrderPlaced(7),)
    assert body.kwargs == {"note": "gift"}


class RouteTo(Addon):
    """Routes every emission to one queue, unless the emitter was given one."""

    name = "route-to"

    def __init__(self, queue: str) -> None:
        self.queue = queue

    def before_publish(self, outgoing: Outgoing) -> None:
        if not outgoing.fixed:
            outgoing.queue = self.queue


def test_the_emitter_queue_wins_over_the_default_queue_and_routes(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    install(app, addons=[RouteTo("routed")])
    chosen = unique_queue()

    CeleryEventEmitter(app, linker=linker, queue=chosen).emit("OrderPlaced")

    envelope = only_envelope(drain, chosen)
    assert read_body(envelope, linker).meta.queue == chosen
    assert drain(default_queue(app)) == []
    assert drain("routed") == []


def test_without_a_queue_the_runtime_route_picks_it(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    routed = unique_queue()
    install(app, addons=[RouteTo(routed)])

    CeleryEventEmitter(app, linker=linker).emit("OrderPlaced")

    assert only_envelope(drain, routed).event == "OrderPlaced"


def test_resolving_at_the_worker_sends_no_handler_refs_and_needs_no_handler(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    emission = CeleryEventEmitter(app, linker=linker, resolve="worker").emit("OrderPlaced", 1)

    assert emission is not None
    assert emission.handlers == ()
    envelope = only_envelope(drain, default_queue(app))
    assert json.loads(envelope.body)["handlers"] is None
    assert read_body(envelope, linker).args == (1,)


def test_resolving_at_the_worker_ignores_the_handlers_subscribed_here(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("OrderPlaced")(lambda: None)

    CeleryEventEmitter(app, linker=linker, resolve="worker").emit("OrderPlaced")

    assert read_body(only_envelope(drain, default_queue(app)), linker).handlers is None


def test_with_no_handler_subscribed_emit_returns_none_and_sends_nothing(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("SomethingElse")(send_receipt)

    assert CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", 1) is None
    assert drain(default_queue(app)) == []


def test_a_catch_all_handler_is_sent_for_every_event(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on(...)(notify)

    CeleryEventEmitter(app, linker=linker).emit("Anything")

    assert read_body(only_envelope(drain, default_queue(app)), linker).handlers == (ref(notify),)


def make_closure() -> Callable[..., None]:
    def closure(*args: object) -> None:
        pass

    return closure


@pytest.mark.parametrize(
    ("handler", "named"),
    [
        (lambda *args: None, "<lambda>"),
        (make_closure(), "make_closure.<locals>.closure"),
    ],
)
def test_a_handler_a_worker_cannot_import_is_refused_before_anything_is_sent(
    app: Celery,
    linker: type[EventLinker],
    drain: Drain,
    handler: Callable[..., None],
    named: str,
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    linker.on("OrderPlaced")(handler)

    with pytest.raises(HandlerNotImportableError) as caught:
        CeleryEventEmitter(app, linker=linker).emit("OrderPlaced")

    assert named in caught.value.ref
    assert named in str(caught.value)
    assert drain(default_queue(app)) == []


def test_a_handler_defined_in_main_is_refused(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    def script_handler() -> None:
        pass

    script_handler.__module__ = "__main__"
    script_handler.__qualname__ = "script_handler"
    linker.on("OrderPlaced")(script_handler)

    with pytest.raises(HandlerNotImportableError, match="__main__:script_handler"):
        CeleryEventEmitter(app, linker=linker).emit("OrderPlaced")

    assert drain(default_queue(app)) == []


def test_a_once_handler_is_put_back_when_its_handler_cannot_be_imported(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.once("OrderPlaced")(lambda: None)

    with pytest.raises(HandlerNotImportableError):
        CeleryEventEmitter(app, linker=linker).emit("OrderPlaced")

    assert len(linker.get_event_handlers("OrderPlaced")) == 1
    assert drain(default_queue(app)) == []


def test_a_once_handler_is_used_up_by_a_successful_emit(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.once("OrderPlaced")(send_receipt)
    emitter = CeleryEventEmitter(app, linker=linker)

    assert emitter.emit("OrderPlaced") is not None
    assert emitter.emit("OrderPlaced") is None
    assert len(drain(default_queue(app))) == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "where"),
    [
        ((object(),), {}, "args[0]"),
        ((1, {"deep": [object()]}), {}, "args[1]['deep'][0]"),
        ((), {"x": object()}, "kwargs['x']"),
    ],
)
def test_a_payload_the_codec_cannot_carry_is_refused_naming_where_and_sends_nothing(
    app: Celery,
    linker: type[EventLinker],
    drain: Drain,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    where: str,
) -> None:
    linker.on("OrderPlaced")(send_receipt)

    with pytest.raises(EncodeError) as caught:
        CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", *args, **kwargs)

    assert caught.value.where == where
    assert drain(default_queue(app)) == []


def test_a_once_handler_is_put_back_when_the_payload_cannot_be_encoded(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.once("OrderPlaced")(send_receipt)

    with pytest.raises(EncodeError):
        CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", object())

    assert [handler.ref for handler in linker.get_event_handlers("OrderPlaced")] == [
        ref(send_receipt)
    ]


def test_a_once_handler_is_put_back_when_the_broker_cannot_be_used(
    linker: type[EventLinker],
) -> None:
    broken = Celery("utest", broker="no-such-transport://", set_as_current=False)
    linker.once("OrderPlaced")(send_receipt)

    with pytest.raises(PublishError):
        CeleryEventEmitter(broken, linker=linker).emit("OrderPlaced")

    assert len(linker.get_event_handlers("OrderPlaced")) == 1


def test_emissions_are_signed_when_a_key_is_set(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    install(app, signing_key=["new-key", "old-key"])
    linker.on("OrderPlaced")(send_receipt)

    CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", 1)

    envelope = only_envelope(drain, default_queue(app))
    assert envelope.kid == derive_key_id(b"new-key")
    envelope.verify(runtime_of(app).settings.keyring)


def test_emissions_use_pickle_when_the_app_opted_in(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    install(app, signing_key="key", serializer="pickle")
    linker.on("OrderPlaced")(send_receipt)

    CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", {1, 2}, when=None)

    envelope = only_envelope(drain, default_queue(app))
    assert envelope.codec == "pickle"
    body = decode_body(envelope.body, "pickle", None)
    assert body.args == ({1, 2},)


def test_making_an_emitter_installs_the_app(app: Celery) -> None:
    CeleryEventEmitter(app)

    assert TASK_NAME in app.tasks


def test_emitters_of_several_linkers_and_queues_share_one_app(app: Celery, drain: Drain) -> None:
    class Billing(EventLinker):
        pass

    class Shipping(EventLinker):
        pass

    Billing.on("Paid")(send_receipt)
    Shipping.on("Shipped")(notify)
    queue = unique_queue()

    CeleryEventEmitter(app, linker=Billing, queue=queue).emit("Paid")
    CeleryEventEmitter(app, linker=Shipping, queue=queue).emit("Shipped")

    bodies = [json.loads(message["body"]) for message, _ in drain(queue)]
    assert [(body["linker"], body["handlers"]) for body in bodies] == [
        (Billing.path(), [ref(send_receipt)]),
        (Shipping.path(), [ref(notify)]),
    ]
    assert [name for name in app.tasks if name.startswith("events.")] == [TASK_NAME]


@pytest.mark.parametrize("resolve", ["both", "", None, "EMITTER"])
def test_an_unknown_resolve_mode_is_refused(app: Celery, resolve: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CeleryEventEmitter(app, resolve=resolve)

    assert caught.value.setting == "resolve"


@pytest.mark.parametrize("queue", ["", 5, b"events", ["events"]])
def test_a_queue_that_is_not_a_queue_name_is_refused(app: Celery, queue: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CeleryEventEmitter(app, queue=queue)

    assert caught.value.setting == "queue"


def test_an_event_name_the_wire_format_refuses_is_refused_before_anything_is_sent(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    name = "x" * 1025
    linker.on(name)(send_receipt)

    with contextlib.suppress(Exception):
        CeleryEventEmitter(app, linker=linker).emit(name)

    assert drain(default_queue(app)) == []
