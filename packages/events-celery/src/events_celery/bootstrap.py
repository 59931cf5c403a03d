"""`install(app)`: bootstraps a Celery app for events.

```python
app = Celery("shop", broker="redis://127.0.0.1:6379/0")
events_celery.install(app, signing_key=os.environ["EVENTS_SIGNING_KEY"])
```
"""

from __future__ import annotations

import threading
from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import entry_points

from celery import Celery

from events_celery.addons import ADDONS_GROUP, Addon, AddonChain, addon_name
from events_celery.consumer import GuardStep
from events_celery.errors import ConfigurationError
from events_celery.publisher import Publisher
from events_celery.queues import route_and_declare
from events_celery.runtime import RUNTIME_ATTRIBUTE, EventsRuntime
from events_celery.settings import EventsSettings
from events_celery.task import register_task
from events_celery.transport import apply_publish_defaults
from events_celery.wire import CONTENT_TYPE, register_serializer

_install_lock = threading.RLock()


def runtime_of(app: Celery) -> EventsRuntime:
    """Return the runtime `install` put on `app`, installing with settings if needed."""
    runtime = getattr(app, RUNTIME_ATTRIBUTE, None)
    if isinstance(runtime, EventsRuntime):
        return runtime
    return install(app)


def install(
    app: Celery,
    *,
    signing_key: str | bytes | Sequence[str | bytes] | Mapping[str, str | bytes] | None = None,
    serializer: str | None = None,
    default_queue: str | None = None,
    addons: Iterable[Addon] = (),
) -> EventsRuntime:
    """Bootstrap `app` for events: plug in add-ons, validate settings, register the task once.

    Arguments override the `events_*` settings of `app.conf`; call this after configuring
    the app. It adds the publish defaults to `broker_transport_options` (publisher confirms on
    RabbitMQ, socket time-outs on Redis) without changing a key the user set, and the content
    type of envelope messages (`events_celery.wire`) to `accept_content`. The add-ons are
    those registered as `events_celery.addons` entry points (events-contrib is one), in the
    order of their names, then those given here, in order.
    Calling it again keeps the add-ons (and adds those given), re-reads the settings and sets
    every add-on up again, but registers nothing twice.

    Raises:
        ConfigurationError: a misspelled or mistyped `events_*` setting or argument, or two
            add-ons with one name.
    """
    if not isinstance(app, Celery):
        raise ConfigurationError("app", f"expected a Celery app, got {type(app).__name__}")
    with _install_lock:
        runtime = getattr(app, RUNTIME_ATTRIBUTE, None)
        known = runtime.addons.addons if runtime is not None else tuple(_discovered())
        chain = AddonChain(_unique([*known, *_checked(addons)]))
        overrides = {
            name: value
            for name, value in (
                ("events_signing_key", signing_key),
                ("events_serializer", serializer),
                ("events_default_queue", default_queue),
            )
            if value is not None
        }
        settings = EventsSettings.from_conf(
            ChainMap(overrides, app.conf),
            app.namespace,
            [option for addon in chain.addons for option in addon.options],
        )
        app.conf.update(overrides)
        apply_publish_defaults(app, settings)
        _accept_envelopes(app)
        if runtime is None:
            task = register_task(app)
            app.steps["consumer"].add(GuardStep)
            runtime = EventsRuntime(app, settings, task, Publisher(app, settings, task))
            setattr(app, RUNTIME_ATTRIBUTE, runtime)
        else:
            runtime.settings = settings
            runtime.publisher = Publisher(app, settings, runtime.task)
        runtime.addons = chain
        for addon in chain.addons:
            addon.setup(runtime)
        # Hooks are picked once more: `setup` may have switched an add-on off.
        runtime.addons = AddonChain(chain.addons)
        route_and_declare(runtime)
        return runtime


def _accept_envelopes(app: Celery) -> None:
    register_serializer()
    accepted = list(app.conf.accept_content or ())
    if CONTENT_TYPE not in accepted:
        app.conf.accept_content = [*accepted, CONTENT_TYPE]


def _discovered() -> list[Addon]:
    found: list[Addon] = []
    for entry in sorted(entry_points(group=ADDONS_GROUP), key=lambda entry: entry.name):
        addon = entry.load()()
        if not isinstance(addon, Addon):
            raise ConfigurationError(
                ADDONS_GROUP, f"entry point {entry.name!r} did not make an Addon"
            )
        found.append(addon)
    return found


def _checked(addons: Iterable[Addon]) -> tuple[Addon, ...]:
    checked = tuple(addons)
    for addon in checked:
        if not isinstance(addon, Addon):
            raise ConfigurationError(
                "addons", f"expected Addon instances, got {type(addon).__name__}"
            )
    return checked


def _unique(addons: list[Addon]) -> list[Addon]:
    """Keep the first of add-ons of one class and name; refuse two different ones."""
    kept: dict[str, Addon] = {}
    for addon in addons:
        name = addon_name(addon)
        previous = kept.get(name)
        if previous is None:
            kept[name] = addon
        elif type(previous) is not type(addon):
            raise ConfigurationError(
                "addons", f"two add-ons are named {name!r}; each needs its own name"
            )
    return list(kept.values())
