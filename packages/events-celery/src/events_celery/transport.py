"""Broker transport options that bound publishing, set on the app unless the user set them.

On RabbitMQ (py-amqp) publisher confirms; on Redis socket and connect time-outs. The producer
and the worker read the same `broker_transport_options`, so both get them.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from celery import Celery

from events_celery.settings import EventsSettings

AMQP_DRIVER = "py-amqp"
"""kombu's driver name of the transport whose publishes can be confirmed."""

REDIS_DRIVER = "redis"
"""kombu's driver name of the Redis transports (redis, rediss, sentinel)."""

_added: weakref.WeakKeyDictionary[Celery, dict[str, Any]] = weakref.WeakKeyDictionary()
"""The options this module put on each app, so that installing again can take them back."""


def driver_of(app: Celery) -> str:
    """The kombu driver name of the app's broker transport (no connection is opened).

    An empty string when kombu cannot load the transport: publishing then fails with
    `PublishError`, as it did before, rather than `install`.
    """
    try:
        return str(app.connection_for_write().transport.driver_name)
    except (KeyError, ImportError, AttributeError, ValueError):
        return ""


def publish_defaults(driver: str, settings: EventsSettings) -> dict[str, Any]:
    """The transport options that bound a publish on `driver` with these settings."""
    timeout = float(settings.value("events_publish_timeout"))
    if driver == AMQP_DRIVER:
        return {"confirm_publish": True} if settings.value("events_publish_confirm") else {}
    if driver == REDIS_DRIVER:
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    return {}


def apply_publish_defaults(app: Celery, settings: EventsSettings) -> Mapping[str, Any]:
    """Add the missing publish defaults to `app.conf.broker_transport_options`.

    A key the user set is never changed; keys added by an earlier install are replaced.

    Returns:
        The options now in effect.
    """
    current = dict(app.conf.broker_transport_options or {})
    for key, value in _added.pop(app, {}).items():
        if current.get(key) == value:
            del current[key]
    added = {
        key: value
        for key, value in publish_defaults(driver_of(app), settings).items()
        if key not in current
    }
    if added:
        _added[app] = added
    app.conf.broker_transport_options = {**current, **added}
    return app.conf.broker_transport_options  # type: ignore[no-any-return]
