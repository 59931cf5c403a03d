"""`MetricsAddon`: Prometheus metrics of emissions and handlers (`events-contrib[prometheus]`).

Off until a setting turns it on, and `prometheus_client` is imported only then:

```python
app.conf.events_metrics_port = 9808     # a worker serves /metrics on this port
app.conf.events_metrics = True          # a producer counts into prometheus_client's registry
```

Labels come from the worker's own registry, never from a message: an event name is a label
only when the worker's linker subscribes to it (else `"(other)"`), a handler ref only when the
worker ran that handler (else `"(unregistered)"`), and a refused message has only its reason.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from events_celery.addons import Addon, Delivery, Failure, Outcome, Outgoing, Rejection
from events_celery.runtime import EventsRuntime
from events_celery.settings import Option
from events_contrib.errors import ConfigurationError
from events_core.emission import EventEmission
from events_core.registry import find_linker
from events_core.report import EmissionReport

if TYPE_CHECKING:
    from events_contrib.prometheus import Meters

OTHER_EVENT = "(other)"
"""The `event` label of an event the worker's linker does not subscribe to by name."""

UNREGISTERED_HANDLER = "(unregistered)"
"""The `handler` label of a handler ref the worker does not have."""

DEFAULT_METRICS_ADDRESS = "0.0.0.0"  # noqa: S104 (a scrape target listens on every interface)
"""Address the worker's `/metrics` listens on unless `events_metrics_address` says otherwise."""

_FATES = {
    Outcome.RETRIED: "retry",
    Outcome.REQUEUED: "retry",
    Outcome.DEAD_LETTERED: "dead_letter",
}


def _flag(name: str) -> Any:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ConfigurationError(name, f"expected True or False, got {value!r}")
        return value

    return check


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigurationError("events_metrics_port", f"expected a TCP port, got {value!r}")
    return value


def _address(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError("events_metrics_address", f"expected an address, got {value!r}")
    return value


_MAX_CHILDREN = 4096
"""Bound of the caches of label children and event labels (labels are bounded already)."""

OPTIONS: tuple[Option, ...] = (
    Option(
        "events_metrics",
        False,
        "Count emissions and handler outcomes into prometheus_client's registry.",
        _flag("events_metrics"),
    ),
    Option(
        "events_metrics_port",
        None,
        "On a worker, serve `/metrics` on this port from the main process, summing the pool "
        "processes (prometheus_client's multiprocess mode); implies `events_metrics`.",
        _port,
    ),
    Option(
        "events_metrics_address",
        DEFAULT_METRICS_ADDRESS,
        "Address the worker's `/metrics` listens on.",
        _address,
    ),
)
"""The settings of the metrics add-on."""


class MetricsAddon(Addon):
    """Counts emissions, handler outcomes, refusals and dead letters for Prometheus."""

    name = "events_contrib_metrics"
    options = OPTIONS
    enabled = False

    _meters: Meters | None = None

    def __init__(self) -> None:
        # Label children by (event, handler), and event labels: the hot path of every run.
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._labels: dict[tuple[str, str, str], str] = {}

    @property
    def meters(self) -> Meters:
        """This process's meters, made on first use (after a worker chose its mode)."""
        if self._meters is None:
            from events_contrib import prometheus

            self._meters = prometheus.meters()
        return self._meters

    def setup(self, runtime: EventsRuntime) -> None:
        """Turn on when `events_metrics` or `events_metrics_port` is set.

        Raises:
            ConfigurationError: metrics are asked for but prometheus_client is missing.
        """
        port = runtime.settings.value("events_metrics_port")
        self.enabled = bool(runtime.settings.value("events_metrics")) or port is not None
        if not self.enabled:
            return
        if importlib.util.find_spec("prometheus_client") is None:
            raise ConfigurationError(
                "events_metrics_port" if port is not None else "events_metrics",
                "metrics need prometheus_client: pip install 'events-contrib[prometheus]'",
            )
        if port is not None:
            from events_contrib import prometheus

            prometheus.serve_from_worker(
                runtime.app, port, runtime.settings.value("events_metrics_address")
            )

    def after_publish(
        self, outgoing: Outgoing, seconds: float, error: BaseException | None
    ) -> None:
        """Count a published emission and how long publishing took."""
        if error is None:
            self.meters.emitted.labels(outgoing.emission.event).inc()
            self.meters.publish.observe(seconds)

    def after_run(self, delivery: Delivery, report: EmissionReport) -> None:
        """Time every handler; count those that succeeded."""
        event = self._event_label(delivery.emission, delivery.body.linker)
        meters = self.meters
        children = self._children
        for outcome in report.outcomes:
            key = (event, outcome.handler)
            found = children.get(key)
            if found is None:
                if len(children) >= _MAX_CHILDREN:
                    children.clear()
                found = children[key] = (
                    meters.duration.labels(event, outcome.handler),
                    meters.handled.labels(event, outcome.handler, "success"),
                )
            found[0].observe(outcome.duration)
            if outcome.ok:
                found[1].inc()

    def _event_label(self, emission: EventEmission, linker_path: str) -> str:
        """`event_label`, remembered for the events a worker's registry has."""
        key = (linker_path, emission.kind, emission.event)
        label = self._labels.get(key)
        if label is None:
            label = event_label(emission, linker_path)
            if label != OTHER_EVENT and len(self._labels) < _MAX_CHILDREN:
                self._labels[key] = label
        return label

    def after_failure(self, failure: Failure, outcome: Outcome | None) -> None:
        """Count each failed handler by its fate, and the dead letter if one was written."""
        event = event_label(failure.emission, failure.body.linker)
        dead: list[bool] = []
        for ref in failure.failed:
            fate = failure.fates.get(ref, outcome)
            registered = ref not in failure.unregistered
            label = _FATES.get(fate, "failure") if fate is not None else "failure"
            handler = ref if registered else UNREGISTERED_HANDLER
            self.meters.handled.labels(event, handler, label).inc()
            if fate is Outcome.DEAD_LETTERED:
                dead.append(registered)
        if dead:
            reason = "failed" if any(dead) else "unregistered"
            self.meters.dead_letters.labels(event, reason).inc()

    def after_rejection(self, rejection: Rejection, taken: bool) -> None:
        """Count a refused message by its reason (and its dead letter, if taken)."""
        reason = str(rejection.reason)
        self.meters.rejected.labels(reason).inc()
        if taken:
            self.meters.dead_letters.labels("", reason).inc()


def event_label(emission: EventEmission, linker_path: str) -> str:
    """The `event` label of an emission on a worker: bounded by the worker's registry."""
    if emission.kind == "class":
        # Rebuilt only from classes the worker's linker subscribes to: a bounded set.
        return emission.event
    linker = find_linker(linker_path)
    if linker is not None and emission.event in linker.get_events():
        return emission.event
    return OTHER_EVENT
