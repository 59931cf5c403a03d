"""Batches: `CeleryEventEmitter.batch()` and `emit_many`, their wire format, and the task
running them in-process (`Task.apply`), on the in-memory transport."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from celery import Celery, states
from celery.exceptions import Reject
from kombu.message import Message

from events_celery import BatchPublishError, CeleryEventEmitter, Envelope, PublishError, install
from events_celery.addons import Addon, Delivery, Failure, Outcome, Outgoing
from events_celery.batchwire import MAX_BATCH_ITEMS, BatchItem, join_items, read_items
from events_celery.bootstrap import runtime_of
from events_celery.envelope import BATCH_EVENT, BATCH_VERSION, VERSION
from events_celery.errors import ConfigurationError, DecodeError, EncodeError
from events_celery.guard import MessageGuard
from events_celery.publisher import TASK_NAME
from events_core import EventLinker
from events_core.report import EmissionReport

Drain = Callable[[str], list[tuple[Any, dict[str, Any]]]]

calls: list[tuple[str, Any]] = []
loops: list[asyncio.AbstractEventLoop] = []


def note(number: int) -> None:
    calls.append(("note", number))


def fail_on_two(number: int) -> None:
    calls.append(("fail_on_two", number))
    if number == 2:
        raise ValueError("two")


async def note_async(number: int) -> None:
    await asyncio.sleep(0)
    loops.append(asyncio.get_running_loop())
    calls.append(("note_async", number))


@pytest.fixture(autouse=True)
def _forget_calls() -> Iterator[None]:
    calls.clear()
    loops.clear()
    yield
    calls.clear()
    loops.clear()


def queue_of(app: Celery) -> str:
    return runtime_of(app).settings.default_queue


def execute(app: Celery, message: object) -> Any:
    return app.tasks[TASK_NAME].apply(args=(message,))


def test_a_batch_block_publishes_its_emits_as_one_message_at_its_end(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)

    with emitter.batch():
        emissions = [emitter.emit("Noted", number) for number in range(5)]
        assert drain(queue_of(app)) == []

    [(message, headers)] = drain(queue_of(app))
    envelope = Envelope.parse(message)
    assert (envelope.v, envelope.event, headers["task"]) == (BATCH_VERSION, BATCH_EVENT, TASK_NAME)
    assert headers["id"] == envelope.id
    assert [item.id for item in read_items(envelope.body)] == [
        emission.id for emission in emissions if emission is not None
    ]


def test_a_batch_is_split_by_queue_and_by_events_batch_size(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    app.conf.events_batch_size = 3
    linker.on("Noted")(note)
    default = CeleryEventEmitter(app, linker=linker)
    other = f"{queue_of(app)}-other"
    elsewhere = CeleryEventEmitter(app, linker=linker, queue=other)

    with default.batch():
        for number in range(7):
            default.emit("Noted", number)
    elsewhere.emit_many(["Noted", "Noted"])

    sizes = [len(read_items(Envelope.parse(m).body)) for m, _ in drain(queue_of(app))]
    assert sizes == [3, 3, 1]
    assert [len(read_items(Envelope.parse(m).body)) for m, _ in drain(other)] == [2]


def test_a_batch_stays_under_events_max_message_bytes(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    app.conf.events_max_message_bytes = 4096
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)

    with emitter.batch():
        for number in range(40):
            emitter.emit("Noted", number)

    messages = drain(queue_of(app))
    assert len(messages) > 1
    assert all(len(json.dumps([[m], {}, {}])) < 4096 for m, _ in messages)
    assert sum(len(read_items(Envelope.parse(m).body)) for m, _ in messages) == 40


def test_an_emission_too_large_for_any_message_raises_at_its_emit(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    app.conf.events_max_message_bytes = 2048
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)

    with pytest.raises(EncodeError, match="events_max_message_bytes"), emitter.batch():
        emitter.emit("Noted", "x" * 4000)

    assert drain(queue_of(app)) == []


def test_a_failing_block_publishes_nothing_and_gives_once_handlers_back(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.once("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)

    taken: list[object] = []

    def block() -> None:
        with emitter.batch():
            taken.append(emitter.emit("Noted", 1))
            taken.extend(linker.get_event_handlers("Noted"))
            raise RuntimeError("the block failed")

    with pytest.raises(RuntimeError):
        block()

    assert len(taken) == 1  # the emission, and no handler left while the block ran
    assert taken[0] is not None
    assert drain(queue_of(app)) == []
    assert [h.event_callback for h in linker.get_event_handlers("Noted")] == [note]


def test_a_batch_that_cannot_be_published_raises_and_gives_once_handlers_back(
    linker: type[EventLinker],
) -> None:
    app = Celery("utest-down", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.events_publish_timeout = 0.5
    linker.once("Noted")(note)
    linker.on("Noted")(fail_on_two)
    emitter = CeleryEventEmitter(app, linker=linker)

    with pytest.raises(BatchPublishError, match=r"3 emission\(s\) were not sent") as caught:
        emitter.emit_many(["Noted", "Noted", "Noted"])

    assert isinstance(caught.value, PublishError)
    assert len(caught.value.not_sent) == 3
    assert caught.value.sent == 0
    assert [h.event_callback for h in linker.get_event_handlers("Noted")] == [note, fail_on_two]
    app.close()


def test_a_nested_block_joins_the_outer_one(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)

    with emitter.batch():
        emitter.emit("Noted", 1)
        with emitter.batch():
            emitter.emit("Noted", 2)
        assert drain(queue_of(app)) == []

    [(message, _)] = drain(queue_of(app))
    assert len(read_items(Envelope.parse(message).body)) == 2


def test_a_batch_runs_its_emissions_in_order_with_async_handlers_on_one_loop(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("Noted")(note)
    linker.on("Noted")(note_async)
    emitter = CeleryEventEmitter(app, linker=linker)
    with emitter.batch():
        for number in range(3):
            emitter.emit("Noted", number)
    [(message, _)] = drain(queue_of(app))

    result = execute(app, message)

    assert result.state == states.SUCCESS
    assert result.result == 3
    assert calls == [
        ("note", 0), ("note_async", 0), ("note", 1), ("note_async", 1), ("note", 2),
        ("note_async", 2),
    ]  # fmt: skip
    assert len(set(loops)) == 1


def test_a_failing_emission_does_not_stop_the_rest_of_its_batch(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("Noted")(fail_on_two)
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)
    with emitter.batch():
        for number in range(4):
            emitter.emit("Noted", number)
    [(message, _)] = drain(queue_of(app))

    result = execute(app, message)

    # Without a retry add-on, the failed emission ends the task in FAILURE, after the others.
    assert result.state == states.FAILURE
    assert [number for name, number in calls if name == "note"] == [0, 1, 2, 3]


def test_a_tampered_batch_is_refused_whole_and_runs_nothing(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    app.conf.events_signing_key = "secret"
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)
    with emitter.batch():
        emitter.emit("Noted", 1)
        emitter.emit("Noted", 2)
    [(message, _)] = drain(queue_of(app))
    tampered = dict(message, body=message["body"].replace("[2]", "[3]"))
    assert tampered["body"] != message["body"]

    result = execute(app, tampered)

    assert result.state == states.REJECTED
    assert isinstance(result.result, Reject)
    assert str(result.result.reason).startswith("signature: ")
    assert calls == []


def test_a_batch_cannot_pass_for_a_single_envelope_with_the_same_signature(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    app.conf.events_signing_key = "secret"
    linker.on("Noted")(note)
    CeleryEventEmitter(app, linker=linker).emit_many(["Noted"])
    [(message, _)] = drain(queue_of(app))

    result = execute(app, dict(message, v=1))

    assert result.state == states.REJECTED
    assert calls == []


def test_the_guard_accepts_a_well_formed_batch_message(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)
    with emitter.batch():
        for number in range(100):
            emitter.emit("Noted", number)
    [(message, _)] = drain(queue_of(app))
    install(app)
    guard = MessageGuard(frozenset({queue_of(app)}), max_bytes=1024 * 1024)
    raw = Message(
        body=json.dumps([[message], {}, {"callbacks": None}]).encode(),
        headers={"task": TASK_NAME, "id": message["id"]},
        content_type="application/json",
        content_encoding="utf-8",
        delivery_info={"routing_key": queue_of(app)},
    )

    assert guard.check(raw) == message


ITEM = BatchItem(uuid.uuid4().hex, "Noted", "{}")


def test_items_round_trip_through_the_batch_body() -> None:
    other = replace(ITEM, id=uuid.uuid4().hex, event="Other", body='{"a":"\\"q\\""}')

    assert read_items(join_items([ITEM.encode(), other.encode()])) == (ITEM, other)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        "[]",
        "[1]",
        '[{"id": "x", "event": "e", "body": "{}"}]',
        json.dumps([{"id": ITEM.id, "event": "", "body": "{}"}]),
        json.dumps([{"id": ITEM.id, "event": "e", "body": {}}]),
        json.dumps([{"id": ITEM.id, "event": "e", "body": "{}", "more": 1}]),
        join_items([ITEM.encode(), ITEM.encode()]),
        join_items([ITEM.encode()] * (MAX_BATCH_ITEMS + 1)),
    ],
)
def test_a_malformed_batch_body_is_refused(text: str) -> None:
    with pytest.raises(DecodeError):
        read_items(text)


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "100", MAX_BATCH_ITEMS + 1])
def test_events_batch_size_is_validated(app: Celery, value: object) -> None:
    app.conf.events_batch_size = value

    with pytest.raises(ConfigurationError, match="events_batch_size"):
        install(app)


class Hooks(Addon):
    """Records the emission id at every hook, to show each emission of a batch goes through."""

    name = "hooks"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def before_publish(self, outgoing: Outgoing) -> None:
        self.seen.append(("before_publish", outgoing.emission.id))
        outgoing.meta["noted"] = "yes"

    def after_publish(
        self, outgoing: Outgoing, seconds: float, error: BaseException | None
    ) -> None:
        self.seen.append(("after_publish" if error is None else "not_sent", outgoing.emission.id))

    def before_run(self, delivery: Delivery) -> None:
        assert delivery.body.meta.extra == {"noted": "yes"}
        self.seen.append(("before_run", delivery.emission.id))

    def after_run(self, delivery: Delivery, report: EmissionReport) -> None:
        self.seen.append(("after_run", delivery.emission.id))

    def on_failure(self, failure: Failure) -> Outcome | None:
        self.seen.append(("on_failure", failure.emission.id))
        return None


def test_every_emission_of_a_batch_goes_through_every_add_on_hook(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    hooks = Hooks()
    install(app, addons=[hooks])
    linker.on("Noted")(fail_on_two)
    emitter = CeleryEventEmitter(app, linker=linker)
    with emitter.batch():
        ids = [e.id for e in (emitter.emit("Noted", number) for number in range(3)) if e]
    [(message, _)] = drain(queue_of(app))

    execute(app, message)

    first, second, third = ids
    assert hooks.seen == [
        ("before_publish", first), ("before_publish", second), ("before_publish", third),
        ("after_publish", first), ("after_publish", second), ("after_publish", third),
        ("before_run", first), ("after_run", first),
        ("before_run", second), ("after_run", second),
        ("before_run", third), ("after_run", third),
        ("on_failure", third),
    ]  # fmt: skip


def test_an_abandoned_batch_tells_the_add_ons_its_emissions_were_not_sent(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    hooks = Hooks()
    install(app, addons=[hooks])
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)

    def block() -> None:
        with emitter.batch():
            emitter.emit("Noted", 1)
            raise RuntimeError("the block failed")

    with pytest.raises(RuntimeError):
        block()

    assert [hook for hook, _ in hooks.seen] == ["before_publish", "not_sent"]
    assert drain(queue_of(app)) == []


def test_an_emission_the_worker_cannot_run_is_refused_alone(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker, resolve="worker")
    with emitter.batch():
        emitter.emit("Noted", 1)
        emitter.emit("Nobody listens", 2)
        emitter.emit("Noted", 3)
    [(message, _)] = drain(queue_of(app))

    result = execute(app, message)

    assert result.state == states.SUCCESS
    assert result.result == 2
    assert calls == [("note", 1), ("note", 3)]


def test_emits_of_other_threads_and_after_the_block_do_not_join_it(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    linker.on("Noted")(note)
    emitter = CeleryEventEmitter(app, linker=linker)

    async def emit_later(go: asyncio.Event) -> None:
        await go.wait()
        emitter.emit("Noted", 4)

    async def main() -> None:
        go = asyncio.Event()
        with emitter.batch():
            emitter.emit("Noted", 1)
            late = asyncio.create_task(emit_later(go))
            worker = threading.Thread(target=emitter.emit, args=("Noted", 2))
            worker.start()
            worker.join()
            emitter.emit("Noted", 3)
        go.set()
        await late

    asyncio.run(main())

    found = [Envelope.parse(message) for message, _ in drain(queue_of(app))]
    assert [envelope.v for envelope in found] == [VERSION, BATCH_VERSION, VERSION]
    assert len(read_items(found[1].body)) == 2


def test_routed_emissions_of_a_block_go_as_one_message_per_queue_in_emit_order(
    app: Celery, linker: type[EventLinker], drain: Drain
) -> None:
    billing = f"{app.conf.events_default_queue}-billing"
    app.conf.events_routes = {"Billed": billing}
    linker.on("Noted", "Billed")(note)
    emitter = CeleryEventEmitter(app, linker=linker)

    with emitter.batch():
        emitted = [emitter.emit(name, n) for n, name in enumerate(["Noted", "Billed"] * 3)]

    ids = [emission.id for emission in emitted if emission is not None]
    [(noted, _)] = drain(queue_of(app))
    [(billed, _)] = drain(billing)
    assert [item.id for item in read_items(Envelope.parse(noted).body)] == ids[0::2]
    assert [item.id for item in read_items(Envelope.parse(billed).body)] == ids[1::2]
