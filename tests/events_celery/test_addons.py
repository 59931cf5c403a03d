"""The add-on contract: hook points called in order, only on the add-ons that hook them."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery, states

from events_celery import CeleryEventEmitter, Envelope, install
from events_celery.addons import (
    Addon,
    AddonChain,
    Delivery,
    Failure,
    Outcome,
    Outgoing,
    Rejection,
)
from events_celery.body import Body, Meta
from events_celery.bootstrap import runtime_of
from events_celery.errors import MalformedEnvelopeError
from events_celery.reasons import Reason
from events_core import EventLinker
from events_core.emission import EventEmission, new_emission_id
from events_core.report import EmissionReport
from tests.events_celery.conftest import unique_queue

calls: list[str] = []


class Spy(Addon):
    """Records each hook it is called at, under its own name."""

    def __init__(self, name: str, *, takes: Outcome | None = None, rejects: bool = False) -> None:
        self.label = name
        self.takes = takes
        self.rejects = rejects

    @property  # type: ignore[override]
    def name(self) -> str:  # type: ignore[override]
        return self.label

    def before_publish(self, outgoing: Outgoing) -> None:
        calls.append(f"{self.label}.before_publish")

    def before_run(self, delivery: Delivery) -> None:
        calls.append(f"{self.label}.before_run")

    def after_run(self, delivery: Delivery, report: EmissionReport) -> None:
        calls.append(f"{self.label}.after_run:{'ok' if report.ok else 'failed'}")

    def on_failure(self, failure: Failure) -> Outcome | None:
        calls.append(f"{self.label}.on_failure")
        return self.takes

    def on_rejection(self, rejection: Rejection) -> bool:
        calls.append(f"{self.label}.on_rejection:{rejection.reason}")
        return self.rejects


class Quiet(Addon):
    """Hooks nothing."""

    name = "quiet"


@pytest.fixture(autouse=True)
def _forget_calls() -> Any:
    calls.clear()
    yield
    calls.clear()


def test_each_hook_is_called_on_every_add_on_in_order() -> None:
    chain = AddonChain([Spy("a"), Quiet(), Spy("b")])
    emission = EventEmission("OrderPlaced")

    chain.before_publish(Outgoing(emission))

    assert calls == ["a.before_publish", "b.before_publish"]
    assert chain.names == ("a", "quiet", "b")


def test_failure_goes_to_add_ons_in_order_until_one_takes_it() -> None:
    chain = AddonChain([Spy("a"), Spy("b", takes=Outcome.RETRIED), Spy("c")])

    outcome = chain.on_failure(None)  # type: ignore[arg-type]

    assert outcome is Outcome.RETRIED
    assert calls == ["a.on_failure", "b.on_failure"]


def test_a_failure_no_add_on_takes_has_no_outcome() -> None:
    assert AddonChain([Spy("a"), Quiet()]).on_failure(None) is None  # type: ignore[arg-type]


def test_an_add_on_that_hooks_nothing_makes_publishing_plain() -> None:
    assert AddonChain([Quiet()]).publishes_plainly
    assert not AddonChain([Quiet(), Spy("a")]).publishes_plainly


def test_outcomes_and_reasons_read_as_their_values() -> None:
    assert f"{Outcome.DEAD_LETTERED}" == "dead_lettered"
    assert str(Reason.SIGNATURE) == "signature"
    assert Reason("unregistered") is Reason.UNREGISTERED


class Shop(EventLinker):
    """Handlers of the task tests below."""


def fine(order_id: int) -> None:
    calls.append(f"fine:{order_id}")


def broken(order_id: int) -> None:
    calls.append(f"broken:{order_id}")
    raise ValueError("order is invalid")


Shop.subscribe("order.placed", event_callback=fine)
Shop.subscribe("order.broken", event_callback=broken)


def eager_app(*addons: Addon) -> Celery:
    app = Celery("addons-test", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    install(app, addons=addons)
    return app


def broken_envelope(app: Celery) -> Envelope:
    """The sealed envelope of an emission whose one handler, `broken`, raises."""
    body = Body(
        kind="name",
        linker=Shop.path(),
        handlers=(f"{__name__}:broken",),
        timestamp=1718000000.0,
        headers={},
        meta=Meta(queue="events"),
        args=(1,),
        kwargs={},
    )
    return runtime_of(app).publisher.seal(new_emission_id(), "order.broken", body)


def test_the_task_calls_the_hooks_around_a_successful_emission() -> None:
    app = eager_app(Spy("a"), Spy("b"))

    CeleryEventEmitter(app, linker=Shop).emit("order.placed", 7)

    assert calls == [
        "a.before_publish",
        "b.before_publish",
        "a.before_run",
        "b.before_run",
        "fine:7",
        "a.after_run:ok",
        "b.after_run:ok",
    ]


@pytest.mark.parametrize(
    ("outcome", "state"),
    [(Outcome.DEAD_LETTERED, states.REJECTED), (Outcome.RETRIED, states.RETRY)],
)
def test_the_outcome_an_add_on_picks_decides_the_task_state(outcome: Outcome, state: str) -> None:
    app = eager_app(Spy("a"), Spy("b", takes=outcome), Spy("c"))
    envelope = broken_envelope(app)

    result = app.tasks["events.execute"].apply(args=(envelope.to_message(),))

    assert result.state == state
    assert calls[-3:] == ["c.after_run:failed", "a.on_failure", "b.on_failure"]


def test_a_refused_message_goes_to_on_rejection_with_its_reason() -> None:
    app = eager_app(Spy("a"), Spy("b", rejects=True), Spy("c"))

    app.tasks["events.execute"].apply(args=({"not": "an envelope"},))

    assert calls == ["a.on_rejection:malformed", "b.on_rejection:malformed"]


class Watcher(Addon):
    """Hooks only the notifications, which every add-on gets whatever was decided."""

    name = "watcher"

    def after_publish(
        self, outgoing: Outgoing, seconds: float, error: BaseException | None
    ) -> None:
        calls.append(f"watcher.after_publish:{outgoing.queue}:{error is None}")

    def after_failure(self, failure: Failure, outcome: Outcome | None) -> None:
        fates = ",".join(f"{ref.rpartition(':')[2]}={fate}" for ref, fate in failure.fates.items())
        calls.append(f"watcher.after_failure:{outcome}:{fates}")

    def after_rejection(self, rejection: Rejection, taken: bool) -> None:
        calls.append(f"watcher.after_rejection:{rejection.reason}:{taken}")


class Off(Spy):
    """A Spy its settings switch off."""

    def setup(self, runtime: Any) -> None:
        self.enabled = False


def test_every_add_on_is_told_the_outcome_after_the_first_one_took_the_failure() -> None:
    app = eager_app(Spy("a", takes=Outcome.DEAD_LETTERED), Watcher())
    envelope = broken_envelope(app)

    app.tasks["events.execute"].apply(args=(envelope.to_message(),))

    assert calls[-2:] == ["a.on_failure", "watcher.after_failure:dead_lettered:"]


def test_every_add_on_is_told_of_a_refusal_and_whether_it_was_taken() -> None:
    app = eager_app(Spy("a", rejects=True), Watcher())

    app.tasks["events.execute"].apply(args=({"not": "an envelope"},))

    assert calls == ["a.on_rejection:malformed", "watcher.after_rejection:malformed:True"]


def test_an_add_on_is_told_where_an_emission_was_published() -> None:
    app = Celery("addons-test", broker="memory://", set_as_current=False)
    queue = unique_queue()
    install(app, addons=[Watcher()], default_queue=queue)

    CeleryEventEmitter(app, linker=Shop).emit("order.placed", 7)

    assert calls == [f"watcher.after_publish:{queue}:True"]


def test_an_add_on_switched_off_by_its_settings_hooks_nothing() -> None:
    app = eager_app(Off("off"))

    CeleryEventEmitter(app, linker=Shop).emit("order.placed", 7)

    assert calls == ["fine:7"]
    assert "off" in runtime_of(app).addons.names


def test_a_rejection_made_before_the_pool_names_its_message_and_keeps_its_bytes() -> None:
    app = eager_app()
    error = MalformedEnvelopeError("the message has no valid task id (header 'id')")

    rejection = Rejection(
        runtime_of(app).task, None, error, "events", raw=b"\x00\x01", delivery_id="abc"
    )

    assert (rejection.id, rejection.raw, rejection.deliveries) == ("abc", b"\x00\x01", 1)
    assert rejection.reason == Reason.MALFORMED


def test_the_chain_lists_the_queues_its_add_ons_route_to() -> None:
    class Routes(Addon):
        name = "routes"

        def destinations(self) -> frozenset[str]:
            return frozenset({"orders", "emails"})

    assert AddonChain([Quiet(), Routes()]).destinations() == {"orders", "emails"}
