"""/metrics for membership: which gateway sessions this process owns, how many processes are
alive (as of its last heartbeat: a scrape never waits on the database)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agrochat.actors.membership._ownership import Ownership


class _OwnershipCollector(Collector):
    def __init__(self, ownership: Ownership) -> None:
        self.ownership = ownership

    def collect(self):  # type: ignore[no-untyped-def]
        owned = GaugeMetricFamily(
            "agrochat_gateway_owned",
            "1 when this process owns the WAHA session's event stream, 0 on standby",
            labels=["channel"],
        )
        for channel, role in self.ownership.roles().items():
            owned.add_metric([channel], 1.0 if role == "owned" else 0.0)
        yield owned
        alive = self.ownership.processes_alive
        if alive is not None:
            yield GaugeMetricFamily(
                "agrochat_processes_alive",
                "agrochat processes on this database with a recent heartbeat",
                value=float(alive),
            )


def render_metrics(ownership: Ownership) -> str:
    registry = CollectorRegistry()
    registry.register(_OwnershipCollector(ownership))
    return generate_latest(registry).decode()
