"""How long to wait between attempts: the `Backoff` settings and the pure `compute_backoff`.

```python
from events_contrib.backoff import Backoff, compute_backoff

steady = Backoff(initial=1.0, factor=2.0, maximum=60.0, jitter=False)
[compute_backoff(attempt, steady) for attempt in (1, 2, 3, 10)]  # [1.0, 2.0, 4.0, 60.0]
```
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from events_contrib.errors import ConfigurationError

__all__ = ["DEFAULT_FACTOR", "DEFAULT_INITIAL", "DEFAULT_MAXIMUM", "Backoff", "compute_backoff"]

DEFAULT_INITIAL = 1.0
"""Seconds to wait after the first failed attempt, before jitter."""

DEFAULT_FACTOR = 2.0
"""How much each further failed attempt multiplies the wait."""

DEFAULT_MAXIMUM = 300.0
"""The longest wait in seconds, however many attempts have failed."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: `initial * factor ** (attempt - 1)` seconds, capped at `maximum`.

    With `jitter` ("equal jitter"), each wait is drawn uniformly between half the computed
    wait and the whole of it, so workers that failed together do not retry together.

    Args:
        initial: seconds to wait after the first failed attempt (>= 0).
        factor: multiplier applied for each further failed attempt (>= 1).
        maximum: the longest wait in seconds (>= `initial`).
        jitter: randomise each wait within `[wait / 2, wait]`.

    Raises:
        ConfigurationError: when a field is not a finite number in its range, or `jitter` is
            not a bool. The error's `setting` is `Backoff.<field>`.
    """

    initial: float = DEFAULT_INITIAL
    factor: float = DEFAULT_FACTOR
    maximum: float = DEFAULT_MAXIMUM
    jitter: bool = True

    def __post_init__(self) -> None:
        for name in ("initial", "factor", "maximum"):
            value: object = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(
                    f"Backoff.{name}", f"must be a number of seconds, got {value!r}"
                )
            if not math.isfinite(value):
                raise ConfigurationError(f"Backoff.{name}", f"must be finite, got {value!r}")
            # Store floats, so Backoff(initial=1) and Backoff(initial=1.0) look the same.
            object.__setattr__(self, name, float(value))
        if self.initial < 0:
            raise ConfigurationError("Backoff.initial", f"must be >= 0, got {self.initial!r}")
        if self.factor < 1:
            raise ConfigurationError(
                "Backoff.factor", f"must be >= 1 (waits never shrink), got {self.factor!r}"
            )
        if self.maximum < self.initial:
            raise ConfigurationError(
                "Backoff.maximum",
                f"must be >= initial ({self.initial!r}), got {self.maximum!r}",
            )
        if not isinstance(self.jitter, bool):
            raise ConfigurationError("Backoff.jitter", f"must be a bool, got {self.jitter!r}")


def compute_backoff(
    attempt: int, backoff: Backoff, rng: Callable[[], float] = random.random
) -> float:
    """Return the seconds to wait after failed attempt number `attempt` before the next one.

    The base wait is `min(maximum, initial * factor ** (attempt - 1))`; huge attempt numbers
    give `maximum` rather than overflowing. Without jitter the result is exactly the base wait;
    with jitter it is `base / 2 + rng() * base / 2`, within `[base / 2, base]`. The function
    is pure: its only source of randomness is `rng`.

    Args:
        attempt: the number of the attempt that failed, 1 for the first delivery.
        backoff: the backoff settings.
        rng: returns a float in `[0, 1]`; `random.random` unless injected (tests, seeding).

    Returns:
        The delay in seconds, never negative and never above `backoff.maximum`.

    Raises:
        TypeError: when `attempt` is not an int.
        ValueError: when `attempt` is below 1 or `rng` returns a value outside `[0, 1]`.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int):
        raise TypeError(f"attempt must be an int, got {attempt!r}")
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1 (the first delivery is 1), got {attempt}")
    base = _base_delay(attempt, backoff)
    if not backoff.jitter:
        return base
    draw = rng()
    if not 0.0 <= draw <= 1.0:
        raise ValueError(f"rng must return a float in [0, 1], got {draw!r}")
    half = base / 2
    # `base - half` rather than `half`, so that a draw of 1 gives exactly `base` even when
    # `base / 2` rounds (subnormal waits).
    return half + draw * (base - half)


def _base_delay(attempt: int, backoff: Backoff) -> float:
    """Return `min(maximum, initial * factor ** (attempt - 1))` without overflowing."""
    if backoff.initial == 0 or backoff.factor == 1:
        return backoff.initial
    try:
        grown = backoff.initial * backoff.factor ** (attempt - 1)
    except OverflowError:
        # `**` overflows only past the largest float, far above any finite maximum.
        return backoff.maximum
    return min(backoff.maximum, grown)
