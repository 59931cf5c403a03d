"""The result of running an emission: one outcome per handler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HandlerOutcome:
    """What one handler did with one emission.

    Attributes:
        handler: the handler's import path (`module:qualname`).
        ok: whether the handler and its success callback returned without raising.
        result: the handler's return value (None when it failed).
        exception: what the handler raised, or None.
        duration: seconds spent in the handler and its callbacks.
    """

    handler: str
    ok: bool
    result: Any
    exception: BaseException | None
    duration: float


@dataclass(frozen=True, slots=True)
class EmissionReport:
    """Every handler's outcome for one emission, in subscription order."""

    emission_id: str
    event: str
    outcomes: tuple[HandlerOutcome, ...]

    @property
    def ok(self) -> bool:
        """Whether every handler succeeded."""
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def failed(self) -> tuple[HandlerOutcome, ...]:
        """The outcomes of the handlers that failed."""
        return tuple(outcome for outcome in self.outcomes if not outcome.ok)

    @property
    def succeeded(self) -> tuple[HandlerOutcome, ...]:
        """The outcomes of the handlers that succeeded."""
        return tuple(outcome for outcome in self.outcomes if outcome.ok)
