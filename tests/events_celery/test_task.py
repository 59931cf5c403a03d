"""The `events.execute` task, applied in-process (`Task.apply`): no worker, no broker.

Eager apply runs the task body and the tracer as a worker would, so a `Reject` raised by the
task ends as state REJECTED with the `Reject` as the result, and a raised error as FAILURE.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from celery import Celery, states
from celery.exceptions import Reject

from events_celery import CeleryEventEmitter, Envelope, install, loops
from events_celery.body import Body, Meta
from events_celery.bootstrap import runtime_of
from events_celery.errors import EmissionFailedError
from events_celery.loops import worker_loop
from events_celery.publisher import TASK_NAME
from events_celery.reasons import Reason
from events_core import EventLinker
from events_core.emission import new_emission_id

Drain = Callable[[str], list[tuple[Any, dict[str, Any]]]]

calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []


@dataclass(frozen=True)
class OrderPlaced:
    order_id: int


@dataclass(frozen=True)
class ExpressOrderPlaced(OrderPlaced):
    pass


@dataclass(frozen=True)
class NeverSubscribed:
    x: int


class RunsWhenUnpickled:
    """Unpickling this calls `send_receipt`: a stand-in for a hostile pickle."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (send_receipt, ("unpickled",))


def send_receipt(*args: Any, **kwargs: Any) -> str:
    calls.append(("send_receipt", args, kwargs))
    return "sent"


def notify(*args: Any, **kwargs: Any) -> None:
    calls.append(("notify", args, kwargs))


def explode(*args: Any, **kwargs: Any) -> None:
    calls.append(("explode", args, kwargs))
    raise ValueError("boom")


async def notify_async(*args: Any, **kwargs: Any) -> None:
    await asyncio.sleep(0)
    calls.append(("notify_async", (asyncio.get_running_loop(), *args), kwargs))


def ref(func: Callable[..., Any]) -> str:
    return f"{func.__module__}:{func.__qualname__}"


@pytest.fixture(autouse=True)
def _forget_calls() -> Iterator[None]:
    calls.clear()
    yield
    calls.clear()


def envelope_for(
    app: Celery,
    linker: type[EventLinker],
    event: str,
    *args: Any,
    handlers: tuple[str, ...] | None = None,
    kind: str = "name",
    **kwargs: Any,
) -> Envelope:
    """The envelope an emitter of `app` would send: sealed (and signed) by its runtime."""
    body = Body(
        kind=kind,
        linker=linker.path(),
        handlers=handlers,
        timestamp=1718000000.0,
        headers={},
        meta=Meta(queue="events"),
        args=args,
        kwargs=kwargs,
    )
    return runtime_of(app).publisher.seal(new_emission_id(), event, body)


def execute(app: Celery, message: object) -> Any:
    """Apply the task in-process to `message` (an Envelope is sent as its JSON object)."""
    if isinstance(message, Envelope):
        message = message.to_message()
    return app.tasks[TASK_NAME].apply(args=(message,))


def assert_rejected(result: Any, reason: str) -> None:
    assert result.state == states.REJECTED
    assert isinstance(result.result, Reject)
    assert result.result.requeue is False
    assert str(result.result.reason).startswith(f"{reason}: ")
    assert calls == []


def test_a_good_envelope_runs_its_handlers_and_reports_them(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    linker.on("OrderPlaced")(notify)
    envelope = envelope_for(
        app, linker, "OrderPlaced", 42, handlers=(ref(send_receipt), ref(notify)), rush=True
    )

    result = execute(app, envelope.to_message())

    assert result.state == states.SUCCESS
    assert result.result == 2
    assert calls == [("send_receipt", (42,), {"rush": True}), ("notify", (42,), {"rush": True})]


def test_an_emitted_message_read_from_the_broker_runs_on_the_task(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    emission = CeleryEventEmitter(app, linker=linker).emit("OrderPlaced", 1, note="x")
    [(message, _)] = drain(runtime_of(app).settings.default_queue)

    result = execute(app, message)

    assert emission is not None
    assert result.result == 1
    assert calls == [("send_receipt", (1,), {"note": "x"})]


def test_only_the_handlers_the_message_names_run(app: Celery, linker: type[EventLinker]) -> None:
    linker.on("OrderPlaced")(send_receipt)
    linker.on("OrderPlaced")(notify)

    result = execute(app, envelope_for(app, linker, "OrderPlaced", handlers=(ref(notify),)))

    assert result.result == 1
    assert [name for name, _, _ in calls] == ["notify"]


def test_handlers_run_in_the_worker_order_whatever_the_message_order(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    linker.on("OrderPlaced")(notify)

    execute(
        app,
        envelope_for(app, linker, "OrderPlaced", handlers=(ref(notify), ref(send_receipt))),
    )

    assert [name for name, _, _ in calls] == ["send_receipt", "notify"]


def test_a_message_without_handler_refs_runs_every_handler_of_the_worker(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    linker.on(...)(notify)

    result = execute(app, envelope_for(app, linker, "OrderPlaced", 5, handlers=None).to_message())

    assert result.state == states.SUCCESS
    assert result.result == 2
    assert [name for name, _, _ in calls] == ["send_receipt", "notify"]


def test_an_emitter_resolving_at_the_worker_runs_the_worker_handlers(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    CeleryEventEmitter(app, linker=linker, resolve="worker").emit("OrderPlaced", 3)
    [(message, _)] = drain(runtime_of(app).settings.default_queue)
    linker.on("OrderPlaced")(send_receipt)

    assert execute(app, message).state == states.SUCCESS
    assert calls == [("send_receipt", (3,), {})]


@pytest.mark.parametrize("resolve", ["emitter", "worker"])
def test_a_once_handler_runs_exactly_once_over_three_eager_emits(
    app: Celery, linker: type[EventLinker], resolve: Any
) -> None:
    app.conf.task_always_eager = True
    linker.once("OrderPlaced")(send_receipt)
    linker.on("OrderPlaced")(notify)
    emitter = CeleryEventEmitter(app, linker=linker, resolve=resolve)

    for number in range(3):
        emitter.emit("OrderPlaced", number)

    assert [(name, args) for name, args, _ in calls] == [
        ("send_receipt", (0,)),
        ("notify", (0,)),
        ("notify", (1,)),
        ("notify", (2,)),
    ]


def test_an_eager_once_handler_alone_runs_once_and_later_emits_find_no_handler(
    app: Celery, linker: type[EventLinker]
) -> None:
    app.conf.task_always_eager = True
    linker.once("OrderPlaced")(send_receipt)
    emitter = CeleryEventEmitter(app, linker=linker)

    emitted = [emitter.emit("OrderPlaced", number) for number in range(3)]

    assert [emission is None for emission in emitted] == [False, True, True]
    assert calls == [("send_receipt", (0,), {})]


def test_a_retry_naming_a_lent_once_handler_still_runs_it(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.once("OrderPlaced")(send_receipt)
    linker.lend("OrderPlaced")
    envelope = envelope_for(app, linker, "OrderPlaced", 7, handlers=(ref(send_receipt),))

    result = execute(app, envelope)

    assert result.state == states.SUCCESS
    assert calls == [("send_receipt", (7,), {})]


def test_a_class_event_reaches_its_handlers_as_an_instance(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on(OrderPlaced)(send_receipt)
    event = f"{__name__}:OrderPlaced"

    result = execute(
        app,
        envelope_for(app, linker, event, OrderPlaced(9), kind="class", handlers=None),
    )

    assert result.state == states.SUCCESS
    assert calls == [("send_receipt", (OrderPlaced(9),), {})]


def test_a_subclass_instance_reaches_the_handlers_of_its_base_class(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on(OrderPlaced)(send_receipt)
    event = f"{__name__}:ExpressOrderPlaced"

    result = execute(app, envelope_for(app, linker, event, ExpressOrderPlaced(3), kind="class"))

    assert result.state == states.SUCCESS
    assert calls == [("send_receipt", (ExpressOrderPlaced(3),), {})]


def test_an_async_handler_runs_on_the_worker_loop(app: Celery, linker: type[EventLinker]) -> None:
    linker.on("OrderPlaced")(notify_async)
    linker.on("OrderPlaced")(notify)

    result = execute(app, envelope_for(app, linker, "OrderPlaced", 1))

    assert result.state == states.SUCCESS
    [loop] = [args[0] for name, args, _ in calls if name == "notify_async"]
    assert loop is worker_loop()
    assert sorted(name for name, _, _ in calls) == ["notify", "notify_async"]


def test_in_the_consumers_thread_each_run_gets_a_loop_of_its_own_and_closes_it(
    app: Celery, linker: type[EventLinker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loops, "_consumer", None)
    loops.mark_consumer_thread()
    linker.on("OrderPlaced")(notify_async)

    execute(app, envelope_for(app, linker, "OrderPlaced", 1))
    execute(app, envelope_for(app, linker, "OrderPlaced", 2))

    used = [args[0] for name, args, _ in calls if name == "notify_async"]
    assert len(used) == 2
    assert used[0] is not used[1]
    assert all(loop.is_closed() and loop is not worker_loop() for loop in used)


def test_the_worker_loop_is_made_once_and_reused() -> None:
    assert worker_loop() is worker_loop()
    assert not worker_loop().is_closed()


def test_each_thread_of_a_threads_pool_gets_its_own_worker_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []
    worker = threading.Thread(target=lambda: loops.extend([worker_loop(), worker_loop()]))

    worker.start()
    worker.join()

    assert loops[0] is loops[1]
    assert loops[0] is not worker_loop()


def test_a_closed_worker_loop_is_replaced() -> None:
    first = worker_loop()
    first.close()

    second = worker_loop()

    assert second is not first
    assert not second.is_closed()
    assert worker_loop() is second


def test_a_failed_handler_fails_the_task_listing_it_while_the_others_run(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(explode)
    linker.on("OrderPlaced")(notify)
    envelope = envelope_for(app, linker, "OrderPlaced", handlers=None)

    result = execute(app, envelope.to_message())

    assert result.state == states.FAILURE
    error = result.result
    assert isinstance(error, EmissionFailedError)
    assert error.failures == ((ref(explode), "ValueError: boom"),)
    assert (error.event, error.emission_id) == ("OrderPlaced", envelope.id)
    assert f"{ref(explode)} (ValueError: boom)" in str(error)
    assert [name for name, _, _ in calls] == ["explode", "notify"]


def test_a_handler_ref_the_worker_lacks_is_reported_as_unregistered_and_never_run(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    missing = f"{__name__}:not_a_handler_here"
    envelope = envelope_for(
        app, linker, "OrderPlaced", handlers=(ref(send_receipt), missing, ref(notify))
    )

    result = execute(app, envelope.to_message())

    assert result.state == states.FAILURE
    assert isinstance(result.result, EmissionFailedError)
    unregistered = Reason.UNREGISTERED
    assert result.result.failures == ((missing, unregistered), (ref(notify), unregistered))
    assert [name for name, _, _ in calls] == ["send_receipt"]


def test_a_failed_and_an_unregistered_handler_are_both_listed(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(explode)
    missing = f"{__name__}:gone"

    result = execute(
        app, envelope_for(app, linker, "OrderPlaced", handlers=(ref(explode), missing))
    )

    assert result.result.failures == (
        (ref(explode), "ValueError: boom"),
        (missing, Reason.UNREGISTERED),
    )


@pytest.mark.parametrize(
    "message",
    [
        None,
        "OrderPlaced",
        [],
        {},
        {"v": 1},
    ],
)
def test_a_message_that_is_not_an_envelope_is_rejected(app: Celery, message: object) -> None:
    install(app)

    assert_rejected(execute(app, message), "malformed")


@pytest.mark.parametrize(
    ("field", "value"),
    [("v", 4), ("v", True), ("codec", "yaml"), ("id", "nope"), ("sig", "xyz")],
)
def test_a_malformed_envelope_is_rejected_and_runs_nothing(
    app: Celery, linker: type[EventLinker], field: str, value: object
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    message = envelope_for(app, linker, "OrderPlaced").to_message()
    message[field] = value

    assert_rejected(execute(app, message), "malformed")


def test_an_unsigned_envelope_is_rejected_by_a_worker_with_a_key(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    unsigned = envelope_for(app, linker, "OrderPlaced")
    install(app, signing_key="worker-key")

    assert_rejected(execute(app, unsigned.to_message()), "signature")


def test_an_envelope_signed_with_an_unknown_key_is_rejected(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    install(app, signing_key={"stranger": "other-key"})
    foreign = envelope_for(app, linker, "OrderPlaced")
    install(app, signing_key={"mine": "worker-key"})

    assert_rejected(execute(app, foreign.to_message()), "signature")


def test_a_tampered_envelope_is_rejected(app: Celery, linker: type[EventLinker]) -> None:
    linker.on("OrderPlaced")(send_receipt)
    install(app, signing_key="worker-key")
    signed = envelope_for(app, linker, "OrderPlaced", amount=1)
    tampered = replace(signed, body=signed.body.replace('"amount":1', '"amount":1000'))
    assert tampered.body != signed.body

    assert_rejected(execute(app, tampered.to_message()), "signature")


def test_the_signature_is_checked_before_the_body_is_read(
    app: Celery, linker: type[EventLinker]
) -> None:
    envelope = envelope_for(app, linker, "OrderPlaced")
    body = json.loads(envelope.body)
    body["linker"] = "antigravity:Linker"
    hostile = replace(envelope, body=json.dumps(body))
    install(app, signing_key="worker-key")

    assert_rejected(execute(app, hostile), "signature")
    assert "antigravity" not in sys.modules


def test_a_pickle_body_with_a_bad_signature_is_never_unpickled(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(notify)
    install(app, signing_key={"stranger": "attacker-key"}, serializer="pickle")
    hostile = envelope_for(app, linker, "OrderPlaced", RunsWhenUnpickled())
    install(app, signing_key={"mine": "worker-key"})

    assert hostile.codec == "pickle"
    assert_rejected(execute(app, hostile), "signature")


def test_an_envelope_signed_with_an_older_accepted_key_runs(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    install(app, signing_key="old-key")
    signed = envelope_for(app, linker, "OrderPlaced")
    install(app, signing_key=["new-key", "old-key"])

    assert execute(app, signed.to_message()).state == states.SUCCESS
    assert len(calls) == 1


def test_a_pickle_envelope_is_rejected_by_a_json_worker_even_when_signed(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    install(app, signing_key="key", serializer="pickle")
    pickled = envelope_for(app, linker, "OrderPlaced", 1)
    install(app, serializer="json")

    assert pickled.codec == "pickle"
    result = execute(app, pickled.to_message())
    assert_rejected(result, "undecodable")
    assert str(result.result.reason).endswith("the pickle codec is not enabled on this worker")


def test_an_envelope_of_another_registered_safe_codec_runs_on_a_json_worker(
    app: Celery, linker: type[EventLinker], register_codec: Callable[..., object]
) -> None:
    register_codec("plain")
    linker.on("OrderPlaced")(send_receipt)
    install(app, serializer="plain")
    plain = envelope_for(app, linker, "OrderPlaced", 1, rush=True)
    install(app, serializer="json")

    assert plain.codec == "plain"
    assert execute(app, plain.to_message()).state == states.SUCCESS
    assert calls == [("send_receipt", (1,), {"rush": True})]


def test_an_envelope_of_an_unsafe_codec_the_worker_did_not_opt_into_is_rejected(
    app: Celery, linker: type[EventLinker], register_codec: Callable[..., object]
) -> None:
    register_codec("risky", unsafe=True)
    linker.on("OrderPlaced")(send_receipt)
    install(app, signing_key="key", serializer="risky")
    risky = envelope_for(app, linker, "OrderPlaced", 1)
    install(app, serializer="pickle")

    result = execute(app, risky.to_message())

    assert_rejected(result, "undecodable")
    assert str(result.result.reason).endswith("the risky codec is not enabled on this worker")


def test_a_pickle_envelope_runs_on_a_worker_that_opted_in(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    install(app, signing_key="key", serializer="pickle")

    result = execute(app, envelope_for(app, linker, "OrderPlaced", {1, 2}).to_message())

    assert result.state == states.SUCCESS
    assert calls == [("send_receipt", ({1, 2},), {})]


def test_an_envelope_whose_body_is_not_json_is_rejected(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    broken = replace(envelope_for(app, linker, "OrderPlaced"), body="{not json")

    assert_rejected(execute(app, broken.to_message()), "undecodable")


def test_an_envelope_naming_a_linker_the_worker_lacks_is_rejected(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(send_receipt)
    envelope = envelope_for(app, linker, "OrderPlaced")
    body = json.loads(envelope.body)
    body["linker"] = "somewhere.else:Linker"

    assert_rejected(
        execute(app, replace(envelope, body=json.dumps(body)).to_message()), "unregistered"
    )


def test_an_event_without_any_handler_on_the_worker_is_rejected(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("SomethingElse")(send_receipt)

    assert_rejected(execute(app, envelope_for(app, linker, "OrderPlaced")), "unregistered")


def test_an_empty_list_of_handler_refs_is_rejected(app: Celery, linker: type[EventLinker]) -> None:
    linker.on("OrderPlaced")(send_receipt)

    assert_rejected(
        execute(app, envelope_for(app, linker, "OrderPlaced", handlers=())), "unregistered"
    )


def test_a_class_the_linker_does_not_subscribe_to_is_rejected(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on(OrderPlaced)(send_receipt)
    envelope = envelope_for(
        app, linker, f"{__name__}:OrderPlaced", OrderPlaced(1), NeverSubscribed(2), kind="class"
    )

    assert_rejected(execute(app, envelope.to_message()), "undecodable")


def test_a_class_event_whose_instance_does_not_match_its_name_is_rejected(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on(OrderPlaced)(send_receipt)
    linker.on("OrderPlaced")(send_receipt)
    envelope = envelope_for(app, linker, "OrderPlaced", OrderPlaced(1), kind="class")

    assert_rejected(execute(app, envelope.to_message()), "undecodable")


def test_a_class_event_without_its_instance_is_rejected(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on(OrderPlaced)(send_receipt)
    envelope = envelope_for(app, linker, f"{__name__}:OrderPlaced", kind="class")

    assert_rejected(execute(app, envelope.to_message()), "undecodable")


def test_a_string_event_named_like_a_class_never_reaches_class_handlers(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on(OrderPlaced)(send_receipt)

    assert_rejected(
        execute(app, envelope_for(app, linker, f"{__name__}:OrderPlaced", 1)), "unregistered"
    )
