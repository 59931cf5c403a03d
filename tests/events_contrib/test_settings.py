"""ContribSettings: validation of events_routes, events_retry and events_dead_letter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from celery import Celery

import events_celery
from events_contrib import ConfigurationError, RetryPolicy, Router
from events_contrib.settings import ContribSettings


@dataclass(frozen=True)
class Placed:
    """A class event for retry settings."""

    order_id: int


def settings_for(**conf: Any) -> ContribSettings:
    app = Celery("settings-test", broker="memory://")
    app.conf.update(conf)
    return ContribSettings.from_settings(events_celery.install(app).settings)


def test_nothing_configured_means_no_router_no_retry_and_no_dead_letters() -> None:
    settings = settings_for()

    assert settings == ContribSettings(router=None, retry=None, dead_letter_queue=None)


def test_a_routes_mapping_becomes_a_router_whose_default_is_the_default_queue() -> None:
    settings = settings_for(events_routes={"order.*": "orders"}, events_default_queue="main")

    assert settings.router == Router({"order.*": "orders"}, default="main")
    assert settings.router is not None
    assert settings.router.route_for("user.x") == "main"


def test_one_policy_or_a_mapping_of_patterns_to_policies_is_accepted_for_retries() -> None:
    policy = RetryPolicy(max_attempts=5)

    assert settings_for(events_retry=policy).retry == policy
    assert settings_for(events_retry={"order.*": policy}).retry == {"order.*": policy}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (3, "expected a RetryPolicy"),
        ({"order.*": 3}, "must be a RetryPolicy"),
        ({"": RetryPolicy()}, "event names, globs or event classes"),
    ],
)
def test_a_wrong_retry_setting_is_refused_naming_it(value: object, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="events_retry") as raised:
        settings_for(events_retry=value)

    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("value", "queue"),
    [
        (True, "events.dead_letter"),
        ({}, "events.dead_letter"),
        ({"queue": "graveyard"}, "graveyard"),
        (False, None),
    ],
)
def test_the_dead_letter_queue_is_named_from_the_setting(value: object, queue: str | None) -> None:
    assert settings_for(events_dead_letter=value).dead_letter_queue == queue


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"queeu": "x"}, "unknown option"),
        ({"queue": ""}, "'queue' must be a queue name"),
        ("yes", "expected True, False or a mapping"),
    ],
)
def test_a_wrong_dead_letter_setting_is_refused_naming_it(value: object, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="events_dead_letter") as raised:
        settings_for(events_dead_letter=value)

    assert problem in str(raised.value)


def test_event_classes_key_retry_policies_by_their_wire_name() -> None:
    policy = RetryPolicy(max_attempts=4)

    settings = settings_for(events_retry={Placed: policy})

    assert settings.retry == {f"{__name__}:Placed": policy}
