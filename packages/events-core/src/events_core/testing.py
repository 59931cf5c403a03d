"""Helpers for testing code that emits events."""

from __future__ import annotations

from events_core.emission import EventEmission
from events_core.emitter import EventEmitter
from events_core.registry import EventLinker
from events_core.report import EmissionReport


class RecordingEventEmitter(EventEmitter):
    """Records every emission instead of running it; `emit` never blocks or fails.

    Use it in tests to assert what your code emitted, and `run_all()` to run the recorded
    emissions' handlers when the test wants them to.

    Args:
        linker: the registry to resolve handlers from (default `EventLinker`).
    """

    def __init__(self, *, linker: type[EventLinker] = EventLinker) -> None:
        super().__init__(linker=linker)
        self.emissions: list[EventEmission] = []

    def dispatch(self, emission: EventEmission) -> None:
        """Record `emission` without running it."""
        self.emissions.append(emission)

    @property
    def events(self) -> list[str]:
        """Wire names of the recorded emissions, in order."""
        return [emission.event for emission in self.emissions]

    def run_all(self) -> list[EmissionReport]:
        """Run the recorded emissions in order, forget them, and return their reports."""
        emissions, self.emissions = self.emissions, []
        return [emission.run() for emission in emissions]

    def clear(self) -> None:
        """Forget the recorded emissions."""
        self.emissions.clear()
