"""What the worker logs about failed handlers, and the error the task ends with."""

from __future__ import annotations

import logging
import pickle
import traceback

import pytest
from celery import Celery, states

from events_celery.errors import EmissionFailedError
from events_core import EventLinker
from tests.events_celery.test_task import envelope_for, execute, ref

SECRET = "card-4111-secret"


def reject_order(order_id: int, *, card: str) -> None:
    raise ValueError(f"order {order_id} is invalid")


def fine(order_id: int, *, card: str) -> None:
    return None


def failed_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.levelno == logging.ERROR and getattr(record, "handler", None)
    ]


def test_a_failed_handler_is_logged_at_error_with_its_traceback_and_context_fields(
    app: Celery, linker: type[EventLinker], caplog: pytest.LogCaptureFixture
) -> None:
    linker.on("OrderPlaced")(reject_order)
    linker.on("OrderPlaced")(fine)
    envelope = envelope_for(app, linker, "OrderPlaced", 3, handlers=None, card=SECRET)

    with caplog.at_level(logging.ERROR, logger="events_celery"):
        execute(app, envelope)

    [record] = failed_records(caplog)
    assert record.name == "events_celery.task"
    assert record.__dict__["emission_id"] == envelope.id
    assert record.__dict__["event"] == "OrderPlaced"
    assert record.__dict__["handler"] == ref(reject_order)
    assert record.__dict__["attempt"] == 1
    assert "ValueError: order 3 is invalid" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError
    assert "in reject_order" in caplog.text
    assert SECRET not in caplog.text


def test_an_unregistered_handler_ref_is_logged_once_with_its_reason(
    app: Celery, linker: type[EventLinker], caplog: pytest.LogCaptureFixture
) -> None:
    linker.on("OrderPlaced")(fine)
    missing = f"{__name__}:gone"
    envelope = envelope_for(
        app, linker, "OrderPlaced", 1, handlers=(ref(fine), missing), card=SECRET
    )

    with caplog.at_level(logging.ERROR, logger="events_celery"):
        execute(app, envelope)

    [record] = failed_records(caplog)
    assert record.__dict__["handler"] == missing
    assert record.__dict__["reason"] == "unregistered"
    assert record.exc_info is None
    assert SECRET not in caplog.text


def test_a_refused_message_is_logged_on_one_line_with_its_reason(
    app: Celery, linker: type[EventLinker], caplog: pytest.LogCaptureFixture
) -> None:
    app.conf.events_signing_key = "k1"
    envelope = envelope_for(app, linker, "OrderPlaced", 1, card=SECRET)
    tampered = {**envelope.to_message(), "sig": "0" * 64}

    with caplog.at_level(logging.ERROR, logger="events_celery"):
        result = execute(app, tampered)

    assert result.state == states.REJECTED
    [record] = [r for r in caplog.records if getattr(r, "reason", None)]
    assert record.__dict__["reason"] == "signature"
    assert "\n" not in record.getMessage()
    assert SECRET not in caplog.text


def test_the_task_error_names_type_and_message_and_chains_the_handler_exception(
    app: Celery, linker: type[EventLinker]
) -> None:
    linker.on("OrderPlaced")(reject_order)

    result = execute(app, envelope_for(app, linker, "OrderPlaced", 3, handlers=None, card="x"))

    error = result.result
    assert isinstance(error, EmissionFailedError)
    assert f"{ref(reject_order)} (ValueError: order 3 is invalid)" in str(error)
    assert isinstance(error.__cause__, ValueError)
    assert "in reject_order" in "".join(traceback.format_exception(error))
    assert "in reject_order" in result.traceback


def test_the_task_error_survives_pickling_for_the_result_backend() -> None:
    error = EmissionFailedError("OrderPlaced", "abc", [("m:f", "ValueError: no")])
    error.__cause__ = ValueError("no")

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)

    assert (copy.event, copy.emission_id, copy.failures) == (
        "OrderPlaced",
        "abc",
        (("m:f", "ValueError: no"),),
    )
    assert str(copy) == str(error)


def test_a_long_exception_message_is_shortened_in_the_task_error(
    app: Celery, linker: type[EventLinker]
) -> None:
    def long_failure(order_id: int, *, card: str) -> None:
        raise RuntimeError("x" * 1000)

    long_failure.__qualname__ = "long_failure"
    linker.on("OrderPlaced")(long_failure)

    result = execute(app, envelope_for(app, linker, "OrderPlaced", 1, handlers=None, card="y"))

    [(_, described)] = result.result.failures
    assert described.startswith("RuntimeError: xxx")
    assert len(described) < 250
