"""MembershipActor: a thin Pykka shell around Membership.

It beats once as it is made, before the WhatsApp actor starts (Pykka constructs an actor on the
thread that starts it, and the supervisor starts children in order), so a process alone on its
database owns its WAHA sessions from the start instead of one heartbeat later, and the WhatsApp
actor opens them as it starts; then a Ticker tells it ``Heartbeat`` every
AGROCHAT_HEARTBEAT_S. A watch thread, which never touches the database, gives up leases whose
renewal is overdue even while a heartbeat hangs on the database. Ownership changes reach the
WhatsApp actor as tells (``GatewayOwned`` / ``GatewayLost``) through ``Ownership.announce``.
"""

from __future__ import annotations

import threading
from typing import Any

import pykka

from agrochat.actors._common import Ticker
from agrochat.actors.membership._membership import Membership
from agrochat.config import Config
from agrochat.logs import get_logger
from agrochat.messages import Heartbeat, Inspect
from agrochat.supervisor import Supervised

log = get_logger(__name__)


class _Watch:
    """Checks the leases' deadlines several times per margin, on a thread of its own."""

    def __init__(self, membership: Membership, interval_s: float) -> None:
        self.membership = membership
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.membership.expire()
            except Exception:
                log.exception("lease watch failed")


class MembershipActor(Supervised, pykka.ThreadingActor):
    def __init__(self, config: Config, *, membership: Membership) -> None:
        super().__init__()
        self.config = config
        self.membership = membership
        self._ticker: Ticker | None = None
        self._watch: _Watch | None = None
        try:
            self.membership.beat()
        except Exception:
            # Never fatal (beat catches the database's errors; this is for a bug): the ticks
            # try again.
            log.exception("first heartbeat failed")

    def on_start(self) -> None:
        self._ticker = Ticker(
            self.actor_ref,
            self.config.heartbeat_s,
            message=lambda at: Heartbeat(at=at),
            name="heartbeat",
        )
        self._ticker.start()
        margin = self.membership.ownership.margin.total_seconds()
        self._watch = _Watch(self.membership, min(self.config.heartbeat_s, margin) / 4)
        self._watch.start()

    def _stop_threads(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        if self._watch is not None:
            self._watch.stop()

    def on_stop(self) -> None:
        self._stop_threads()
        self.membership.stop()

    def on_failure(self, *args: object) -> None:
        # The leases stay in the database (the restarted actor renews them); until then this
        # process must not act as their owner.
        self._stop_threads()
        self.membership.ownership.drop_all()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return self.membership.snapshot()
        if isinstance(message, Heartbeat):
            if self._ticker is not None:
                self._ticker.handled()
            self.membership.beat()
        else:
            log.warning("membership actor ignored a message", message=type(message).__name__)
        return None
