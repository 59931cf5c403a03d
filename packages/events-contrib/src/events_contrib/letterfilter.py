"""`LetterFilter`: which dead letters a command acts on, by event, reason and age."""

from __future__ import annotations

import fnmatch
import re
import time
from dataclasses import dataclass

from events_contrib.deadletter import DeadLetter
from events_contrib.errors import ConfigurationError

_DURATION = re.compile(r"(?P<amount>\d+(?:\.\d+)?)(?P<unit>[smhd]?)\Z")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in `90`, `90s`, `15m`, `2h` or `7d`.

    Raises:
        ConfigurationError: not such a duration.
    """
    found = _DURATION.match(text.strip())
    if found is None:
        raise ConfigurationError(
            "--older-than", f"expected a duration such as 90s, 15m, 2h or 7d, got {text!r}"
        )
    return float(found["amount"]) * _SECONDS[found["unit"]]


@dataclass(frozen=True)
class LetterFilter:
    """Dead letters whose event matches a glob, whose reason is one given, and older than an age.

    Attributes:
        event: a glob on the event name (`order.*`), or None for any.
        reason: the reason a letter must have (`failed`, `signature`, ...), or None for any.
        older_than: seconds since the last failure a letter must be older than, or None.
    """

    event: str | None = None
    reason: str | None = None
    older_than: float | None = None

    @property
    def selects_all(self) -> bool:
        """Whether every letter matches."""
        return self.event is None and self.reason is None and self.older_than is None

    def matches(self, letter: DeadLetter, now: float | None = None) -> bool:
        """Whether `letter` is one this filter selects (`now` in seconds since 1970)."""
        if self.event is not None and not fnmatch.fnmatchcase(letter.event, self.event):
            return False
        if self.reason is not None and letter.reason != self.reason:
            return False
        if self.older_than is not None:
            age = (time.time() if now is None else now) - letter.last_failure.timestamp()
            if age <= self.older_than:
                return False
        return True
