"""Session metrics for /metrics: how many session actors (threads) are alive against the cap.

The directory sets them as it starts and passivates sessions; /metrics reads them without asking
the directory (a scrape must not queue behind its mailbox). One object lives as long as the
process, so the figures survive a restarted directory.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class SessionStats:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.live = Gauge(
            "agrochat_sessions_live", "session actors alive (one thread each)", registry=r
        )
        self.max_sessions = Gauge(
            "agrochat_sessions_max",
            "live session actors allowed at most (AGROCHAT_SESSION_MAX)",
            registry=r,
        )
        self.waiting = Gauge(
            "agrochat_sessions_waiting",
            "gateway messages and alerts queued until a session is free",
            registry=r,
        )
        self.refused = Counter(
            "agrochat_sessions_refused",
            "messages refused with 503 because every session was busy",
            registry=r,
        )

    def render(self) -> str:
        return generate_latest(self.registry).decode()
