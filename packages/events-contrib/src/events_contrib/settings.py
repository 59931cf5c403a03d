"""The settings events-contrib reads: `events_routes`, `events_retry`, `events_dead_letter`.

```python
app.conf.events_routes = {"order.*": "orders"}          # or "routes.toml", or a Router
app.conf.events_retry = RetryPolicy(max_attempts=5)     # or {"order.*": RetryPolicy(...)}
app.conf.events_dead_letter = True                      # or {"queue": "events.dead"}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from events_celery.settings import EventsSettings, Option
from events_contrib.errors import ConfigurationError
from events_contrib.retry import RetryPolicy
from events_contrib.routing import Router
from events_core.events import class_path, is_event_class

DEAD_LETTER_SUFFIX = ".dead_letter"
"""Appended to `events_default_queue` to name the dead-letter queue by default."""

DEAD_LETTER_OPTIONS = frozenset({"queue"})
"""Keys accepted in the `events_dead_letter` mapping."""


@dataclass(frozen=True)
class ContribSettings:
    """The validated events-contrib settings of one app."""

    router: Router | None
    retry: RetryPolicy | Mapping[str, RetryPolicy] | None
    dead_letter_queue: str | None

    @classmethod
    def from_settings(cls, settings: EventsSettings) -> ContribSettings:
        """Build them from an app's settings, once events-celery validated each value.

        Raises:
            ConfigurationError: a value that does not fit with the others, naming it.
        """
        routes = settings.value("events_routes")
        router = None
        if routes is not None:
            router = Router.from_setting(routes, default=settings.default_queue)
        return cls(
            router=router,
            retry=settings.value("events_retry"),
            dead_letter_queue=_dead_letter_queue(
                settings.value("events_dead_letter"), settings.default_queue
            ),
        )


def _retry(value: Any) -> RetryPolicy | Mapping[str, RetryPolicy] | None:
    if value is None or isinstance(value, RetryPolicy):
        return value
    if isinstance(value, Mapping):
        policies: dict[str, RetryPolicy] = {}
        for pattern, policy in value.items():
            if is_event_class(pattern):
                pattern = class_path(pattern)
            if not isinstance(pattern, str) or not pattern:
                raise ConfigurationError(
                    "events_retry",
                    f"keys must be event names, globs or event classes, got {pattern!r}",
                )
            if not isinstance(policy, RetryPolicy):
                raise ConfigurationError(
                    "events_retry",
                    f"the policy for {pattern!r} must be a RetryPolicy, "
                    f"got {type(policy).__name__}",
                )
            policies[pattern] = policy
        return policies
    raise ConfigurationError(
        "events_retry",
        f"expected a RetryPolicy or a mapping of event patterns to policies, "
        f"got {type(value).__name__}",
    )


def _dead_letter_queue(value: Any, default_queue: str) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return default_queue + DEAD_LETTER_SUFFIX
    if isinstance(value, Mapping):
        unknown = set(value) - DEAD_LETTER_OPTIONS
        if unknown:
            raise ConfigurationError(
                "events_dead_letter",
                f"unknown option(s) {', '.join(sorted(map(repr, unknown)))}; "
                f"accepted: {', '.join(sorted(DEAD_LETTER_OPTIONS))}",
            )
        queue = value.get("queue", default_queue + DEAD_LETTER_SUFFIX)
        if not isinstance(queue, str) or not queue:
            raise ConfigurationError(
                "events_dead_letter", f"'queue' must be a queue name, got {queue!r}"
            )
        return queue
    raise ConfigurationError(
        "events_dead_letter",
        f"expected True, False or a mapping of options, got {type(value).__name__}",
    )


OPTIONS: tuple[Option, ...] = (
    Option(
        "events_routes",
        None,
        "Routes of events to queues: a mapping as `Router` takes, a path to a TOML file, or a "
        "`Router`.",
    ),
    Option(
        "events_retry",
        None,
        "A `RetryPolicy`, or a mapping of event patterns (or classes) to policies.",
        _retry,
    ),
    Option(
        "events_dead_letter",
        None,
        "`True` (on, defaults), a mapping of its options, or `False`/unset (off).",
    ),
)
"""The settings events-contrib declares to events-celery."""
