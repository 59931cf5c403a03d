"""Retry policies: `RetryPolicy`, the per-handler `retry` decorator and `policy_for`.

```python
from events_core import EventLinker
from events_contrib.retry import retry

@EventLinker.on("OrderPlaced")
@retry(max_attempts=5, give_up_on=(KeyError,))
def send_receipt(order_id: int) -> None: ...
```

A handler's own policy wins over `events_retry` in the settings; without either, a failed
handler is not retried.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from events_contrib.backoff import Backoff, compute_backoff
from events_contrib.errors import ConfigurationError
from events_core.events import class_path
from events_core.handler import store_option

__all__ = ["RETRY_OPTION", "RetryPolicy", "policy_for", "retry"]

F = TypeVar("F", bound=Callable[..., Any])


RETRY_OPTION = "retry"
"""Key of a handler's options (`EventHandler.options`) that holds its `RetryPolicy`."""


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed handler runs again, and after how long.

    Args:
        max_attempts: attempts in all, the first delivery included (>= 1; 1 never retries).
        backoff: the wait between attempts.
        retry_on: exception classes worth retrying; a single class or a list is accepted.
        give_up_on: exception classes that fail at once, even when listed in `retry_on`.

    Raises:
        ConfigurationError: when a field has the wrong type or range. The error's `setting`
            is `RetryPolicy.<field>`.
    """

    max_attempts: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    give_up_on: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        attempts: object = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigurationError(
                "RetryPolicy.max_attempts", f"must be an int >= 1, got {attempts!r}"
            )
        if not isinstance(self.backoff, Backoff):
            raise ConfigurationError(
                "RetryPolicy.backoff", f"must be a Backoff, got {self.backoff!r}"
            )
        for name in ("retry_on", "give_up_on"):
            setting = f"RetryPolicy.{name}"
            object.__setattr__(self, name, _exception_classes(setting, getattr(self, name)))

    def gives_up_on(self, exc: BaseException) -> bool:
        """Return whether `exc` is never retried: it is in `give_up_on` or not in `retry_on`."""
        return isinstance(exc, self.give_up_on) or not isinstance(exc, self.retry_on)

    def should_retry(self, attempt: int, exc: BaseException) -> bool:
        """Return whether a handler that raised `exc` on attempt `attempt` runs again.

        Args:
            attempt: the number of the attempt that failed, 1 for the first delivery.
            exc: the exception the handler raised.

        Raises:
            ValueError: when `attempt` is below 1.
        """
        if attempt < 1:
            raise ValueError(f"attempt must be >= 1 (the first delivery is 1), got {attempt}")
        return attempt < self.max_attempts and not self.gives_up_on(exc)

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Return the seconds to wait after failed attempt `attempt` (see `compute_backoff`)."""
        return compute_backoff(attempt, self.backoff, rng)


def retry(
    max_attempts: int = 3,
    backoff: Backoff | None = None,
    retry_on: type[BaseException] | Sequence[type[BaseException]] = (Exception,),
    give_up_on: type[BaseException] | Sequence[type[BaseException]] = (),
) -> Callable[[F], F]:
    """Give a handler its own `RetryPolicy`; the function is returned unchanged.

    Stack it above or below `@EventLinker.on(...)`: the policy is stored on the function
    (under `RETRY_OPTION` in its handler options) and read when the handler fails.

    Args:
        max_attempts: attempts in all, the first delivery included.
        backoff: the wait between attempts (default: `Backoff()`).
        retry_on: exception classes worth retrying.
        give_up_on: exception classes that fail at once.

    Returns:
        A decorator storing the policy on the function and returning the function.

    Raises:
        ConfigurationError: when an argument is invalid, or when the decorator is written as
            a bare `@retry` instead of `@retry()`.
    """
    if callable(max_attempts):
        raise ConfigurationError(
            "retry",
            f"write @retry() with parentheses (or @retry(max_attempts=5)); "
            f"a bare @retry was given {max_attempts!r}",
        )
    policy = RetryPolicy(
        max_attempts,
        Backoff() if backoff is None else backoff,
        _exception_classes("RetryPolicy.retry_on", retry_on),
        _exception_classes("RetryPolicy.give_up_on", give_up_on),
    )

    def decorator(func: F) -> F:
        store_option(func, RETRY_OPTION, policy, decorator="retry")
        return func

    return decorator


def policy_for(
    handler_options: Mapping[str, Any],
    event: object,
    settings_policy: RetryPolicy | Mapping[str, RetryPolicy] | None,
) -> RetryPolicy | None:
    """Return the retry policy of one handler for `event`, or None when it is not retried.

    The handler's own policy (set by `retry`) wins. Otherwise `settings_policy` (the
    `events_retry` setting) decides: a single policy applies to every event; a mapping is
    looked up by the exact event name first (for a class event, the wire name of each class
    in its MRO, as routing does), then by the first glob key (in insertion order) that
    matches the event's own wire name.

    Args:
        handler_options: the handler's options (`EventHandler.options`).
        event: the event's wire name, or the instance of a class event.
        settings_policy: the `events_retry` setting, or None when unset.

    Raises:
        ConfigurationError: when the policy found is not a `RetryPolicy`.
    """
    own = handler_options.get(RETRY_OPTION)
    if own is not None:
        return _checked(RETRY_OPTION, own)
    if settings_policy is None or isinstance(settings_policy, RetryPolicy):
        return settings_policy
    if not isinstance(settings_policy, Mapping):
        raise ConfigurationError(
            "events_retry",
            f"must be a RetryPolicy or a mapping of event patterns to policies, "
            f"got {settings_policy!r}",
        )
    if isinstance(event, str):
        names = [event]
    else:
        names = [class_path(cls) for cls in type(event).__mro__ if cls is not object]
    for name in names:
        if name in settings_policy:
            return _checked("events_retry", settings_policy[name])
    for pattern, policy in settings_policy.items():
        if isinstance(pattern, str) and fnmatch.fnmatchcase(names[0], pattern):
            return _checked("events_retry", policy)
    return None


def _checked(setting: str, policy: object) -> RetryPolicy:
    """Return `policy` if it is a `RetryPolicy`, else raise `ConfigurationError`."""
    if isinstance(policy, RetryPolicy):
        return policy
    raise ConfigurationError(setting, f"expected a RetryPolicy, got {policy!r}")


def _exception_classes(setting: str, value: object) -> tuple[type[BaseException], ...]:
    """Normalise one exception class, or a sequence of them (not a set), to a tuple."""
    items: Iterable[object]
    if isinstance(value, type):
        items = (value,)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = value
    else:
        raise ConfigurationError(
            setting, f"must be an exception class or a tuple of them, got {value!r}"
        )
    classes: list[type[BaseException]] = []
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ConfigurationError(setting, f"{item!r} is not an exception class")
        classes.append(item)
    return tuple(classes)
