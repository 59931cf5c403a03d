"""The publish defaults `install` adds to `broker_transport_options`, and what it leaves alone."""

from __future__ import annotations

import pytest
from celery import Celery

from events_celery import ConfigurationError, install
from events_celery.publisher import PUBLISH_RETRY_POLICY, publish_bound


def make(broker: str, **conf: object) -> Celery:
    app = Celery("utest-transport", broker=broker, set_as_current=False)
    app.conf.update(conf)
    return app


def test_rabbitmq_apps_get_publisher_confirms() -> None:
    app = make("amqp://guest:guest@127.0.0.1:5672//")
    install(app)
    assert app.conf.broker_transport_options == {"confirm_publish": True}


def test_redis_apps_get_socket_and_connect_timeouts() -> None:
    app = make("redis://127.0.0.1:6379/0", events_publish_timeout=2)
    install(app)
    assert app.conf.broker_transport_options == {
        "socket_timeout": 2.0,
        "socket_connect_timeout": 2.0,
    }


def test_an_explicit_transport_option_is_kept_and_others_are_added() -> None:
    app = make(
        "redis://127.0.0.1:6379/0",
        broker_transport_options={"socket_timeout": 30, "visibility_timeout": 600},
    )
    install(app)
    assert app.conf.broker_transport_options == {
        "socket_timeout": 30,
        "visibility_timeout": 600,
        "socket_connect_timeout": 5.0,
    }


def test_an_explicit_confirm_publish_false_is_kept() -> None:
    app = make("amqp://", broker_transport_options={"confirm_publish": False})
    install(app)
    assert app.conf.broker_transport_options == {"confirm_publish": False}


def test_events_publish_confirm_false_opts_out() -> None:
    app = make("amqp://", events_publish_confirm=False)
    install(app)
    assert app.conf.broker_transport_options == {}


def test_installing_again_takes_back_the_defaults_it_added() -> None:
    app = make("amqp://")
    install(app)
    app.conf.events_publish_confirm = False
    install(app)
    assert app.conf.broker_transport_options == {}


def test_other_transports_get_nothing() -> None:
    app = make("memory://")
    install(app)
    assert app.conf.broker_transport_options == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("events_publish_confirm", "yes"),
        ("events_publish_confirm", 1),
        ("events_publish_timeout", 0),
        ("events_publish_timeout", -1),
        ("events_publish_timeout", "5"),
        ("events_publish_timeout", True),
    ],
)
def test_publish_settings_are_validated(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=name):
        install(make("memory://", **{name: value}))


def test_the_bound_adds_the_time_outs_of_every_try_and_the_pauses() -> None:
    app = make("amqp://", events_publish_timeout=5, broker_connection_timeout=4)
    settings = install(app).settings
    tries = PUBLISH_RETRY_POLICY["max_retries"] + 1
    assert tries == 3
    # 3 tries x (connect 4 s + write 5 s + confirm 5 s), pauses of 0 s and 0.5 s.
    assert publish_bound(app, settings) == pytest.approx(42.5)
