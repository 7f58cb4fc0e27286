"""WhatsAppActor: a thin Pykka shell around OutboxSender.

Takes ``Send`` (an outbox row already persisted by whoever tells it), sends it through the
transport and tells the alert scheduler ``Delivered`` / ``DeliveryFailed`` for rows that carry an
alert. On start, and then every ``drain_interval_s``, it drains the outbox: rows left pending by a
crash or waiting out a retry backoff go out then. One actor sends, so sends are in the order the
``Send``s arrived.
"""

from __future__ import annotations

import time
from typing import Any

import pykka

from agrochat.actors._common import ActorId, Peers, Ticker, tell
from agrochat.actors.whatsapp._sender import DRAIN_BATCH, OutboxSender, Outcome
from agrochat.actors.whatsapp._transports import Transport
from agrochat.config import Config
from agrochat.logs import get_logger
from agrochat.messages import DrainOutbox, Inspect, Send
from agrochat.persistence import AlertStore, Database, OutboxStore
from agrochat.supervisor import Supervised

log = get_logger(__name__)


class WhatsAppActor(Supervised, pykka.ThreadingActor):
    def __init__(
        self,
        config: Config,
        *,
        database: Database,
        transport: Transport,
        peers: Peers,
        drain_interval_s: float | None = None,
        sender: OutboxSender | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.peers = peers
        self.transport = transport
        self.drain_interval_s = drain_interval_s or config.alert_tick_s
        self.sender = sender or OutboxSender(
            OutboxStore(database),
            transport,
            alerts=AlertStore(database),
            template=config.alert_template,
        )
        self._timer: Ticker | None = None
        self.errors = 0
        self.last_error: str | None = None

    def on_start(self) -> None:
        self._timer = Ticker(
            self.actor_ref,
            self.drain_interval_s,
            message=lambda at: DrainOutbox(at=at),
            name="outbox-drain",
        )
        self._timer.start()
        # Drain through the inbox, not here: an exception in on_start kills the actor without
        # on_failure, and a database that is slow to answer at start is no reason to die.
        self.actor_ref.tell(DrainOutbox(at=time.time()))

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        try:
            self.transport.close()
        except Exception:
            log.exception("closing the transport failed")

    def on_failure(self, *args: object) -> None:
        self.on_stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return self.snapshot()
        if isinstance(message, Send):
            self._send(message)
        elif isinstance(message, DrainOutbox):
            self._drain()
        else:
            log.warning("whatsapp actor ignored a message", message=type(message).__name__)

    def _send(self, message: Send) -> None:
        """Send one persisted outbox row."""
        try:
            outcome = self.sender.send(message.outbox_id)
        except Exception as exc:
            # The database failed us; the row stays in the outbox for the next drain.
            self._error(exc)
            return
        if outcome is not None:
            self._report(outcome)

    def _drain(self, limit: int = DRAIN_BATCH) -> int:
        if self._timer is not None:
            self._timer.handled()
        try:
            outcomes = self.sender.drain(limit)
        except Exception as exc:
            self._error(exc)
            return 0
        for outcome in outcomes:
            self._report(outcome)
        return len(outcomes)

    def _report(self, outcome: Outcome) -> None:
        if outcome.alert_id is None:
            return
        try:
            tell(self.peers, ActorId.ALERTS, outcome)
        except Exception as exc:
            # The scheduler is restarting: it settles the alert from the outbox row when the
            # alert's lease runs out, so nothing is lost by not telling it now.
            log.warning("could not report a delivery to the scheduler", error=str(exc))

    def _error(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = repr(exc)
        log.exception("whatsapp actor error")

    def snapshot(self) -> dict[str, Any]:
        return {
            "transport": self.transport.name,
            "sent": self.sender.sent,
            "failed": self.sender.failed,
            "last_send_error": self.sender.last_error,
            "errors": self.errors,
            "last_error": self.last_error,
        }
