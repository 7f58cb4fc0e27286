"""OutboxSender: sends outbox rows through a transport, exactly once per row as far as we decide.

Every send first claims the row (``sending`` with a lease): a second ``Send`` for the same row,
or a second process draining the outbox, finds it taken or sent and does nothing. The row is
marked ``sent`` right after the gateway accepts it. The one gap no outbox closes: a crash after
the gateway accepted a message and before the row is marked sent resends it once the lease runs
out (the gateways take no idempotency key).

Failures: a row that carries an alert is marked ``failed`` whatever the cause and the alert
scheduler decides about a retry (its backoff and attempt limit; a retry is a new row). Any other
row (a reply) goes back to ``pending`` with the outbox's own backoff when the error is retryable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from agrochat.actors.whatsapp._transports import Transport, TransportError
from agrochat.logs import get_logger
from agrochat.messages import Delivered, DeliveryFailed
from agrochat.persistence import AlertStore, OutboxMessage, OutboxStore, utcnow

log = get_logger(__name__)

# Longer than any transport timeout, so a slow send is not taken over while still running.
DEFAULT_LEASE_S = 60.0
DRAIN_BATCH = 20

Outcome = Delivered | DeliveryFailed


class OutboxSender:
    def __init__(
        self,
        outbox: OutboxStore,
        transport: Transport,
        *,
        alerts: AlertStore | None = None,
        template: str = "",
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.alerts = alerts
        self.template = template
        self.lease_s = lease_s
        self.clock = clock
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None

    def send(self, outbox_id: int) -> Outcome | None:
        """Send one row if it is still to be sent; None when someone else has it."""
        row = self.outbox.claim_one(outbox_id, self.lease_s, now=self.clock())
        # None: a drain sent it already, or another process holds it; either reports it.
        return self._deliver(row) if row is not None else None

    def drain(self, limit: int = DRAIN_BATCH) -> list[Outcome]:
        """Send rows left pending or whose lease ran out (a crash), oldest first."""
        rows = self.outbox.claim(limit, self.lease_s, now=self.clock())
        if rows:
            log.info("draining outbox", rows=len(rows))
        return [self._deliver(row) for row in rows]

    def _deliver(self, row: OutboxMessage) -> Outcome:
        try:
            gateway_id = self.transport.send(row.phone, row.text, template=self._template(row))
        except TransportError as exc:
            return self._failed(row, str(exc), retryable=exc.retryable)
        except Exception as exc:
            # A transport bug is not the message's fault: keep it and retry later.
            log.exception("transport crashed", outbox_id=row.id)
            return self._failed(row, f"{type(exc).__name__}: {exc}", retryable=True)
        self.outbox.mark_sent(row.id, gateway_id, now=self.clock())
        self.sent += 1
        return Delivered(outbox_id=row.id, gateway_message_id=gateway_id, alert_id=row.alert_id)

    def _failed(self, row: OutboxMessage, error: str, *, retryable: bool) -> DeliveryFailed:
        self.failed += 1
        self.last_error = error
        log.warning("send failed", outbox_id=row.id, retryable=retryable, error=error)
        self.outbox.mark_failed(
            row.id, error, retryable=retryable and row.alert_id is None, now=self.clock()
        )
        return DeliveryFailed(
            outbox_id=row.id, error=error, alert_id=row.alert_id, retryable=retryable
        )

    def _template(self, row: OutboxMessage) -> str | None:
        """The template name when the scheduler decided this alert goes out as a template."""
        if row.alert_id is None or self.alerts is None or not self.template:
            return None
        alert = self.alerts.get(row.alert_id)
        return self.template if alert is not None and alert.delivery == "template" else None
