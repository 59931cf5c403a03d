"""Prometheus meters of an outbox relay (`events-contrib[prometheus]`), served on a port.

`events-outbox relay --metrics-port PORT` serves them on `/metrics`:

- `events_outbox_relayed_total`: rows the relay published;
- `events_outbox_pending`: committed rows not published yet, at the last progress report;
- `events_outbox_lag_seconds`: emit-to-publish delay of the newest published row, then.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from events_contrib.errors import ConfigurationError


class RelayMeters:
    """The meters of one relay, in `registry` (prometheus_client's default one if None).

    Raises:
        ConfigurationError: prometheus_client is not installed.
    """

    def __init__(self, registry: Any = None) -> None:
        if importlib.util.find_spec("prometheus_client") is None:
            raise ConfigurationError(
                "metrics_port",
                "relay metrics need prometheus_client: pip install 'events-contrib[prometheus]'",
            )
        from prometheus_client import REGISTRY, Counter, Gauge

        self.registry = REGISTRY if registry is None else registry
        self.relayed = Counter(
            "events_outbox_relayed", "Outbox rows published.", registry=self.registry
        )
        self.pending = Gauge(
            "events_outbox_pending", "Committed outbox rows not yet published.",
            registry=self.registry,
        )  # fmt: skip
        self.lag = Gauge(
            "events_outbox_lag_seconds",
            "Emit-to-publish delay of the newest published row.",
            registry=self.registry,
        )

    def report(self, pending: int, lag: float | None) -> None:
        """Set the gauges from a progress report."""
        self.pending.set(pending)
        if lag is not None:
            self.lag.set(lag)

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        """Serve `/metrics` from a thread of this process."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=address, registry=self.registry)
