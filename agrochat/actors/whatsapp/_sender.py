"""OutboxSender: sends outbox rows through a transport, exactly once per row as far as we decide.

Every send first claims the row (``sending`` with a lease): a second ``Send`` for the same row,
or a second process draining the outbox, finds it taken or sent and does nothing. The row is
marked ``sent`` right after the gateway accepts it. The one gap no outbox closes: a crash after
the gateway accepted a message and before the row is marked sent resends it once the lease runs
out (the gateways take no idempotency key).

Each row goes out through its channel (the number the producer wrote to), within the send-rate
limits of that number (``SendRateLimiter``, per producer and for the whole number): a row that
would exceed them is given back untouched and sent by a later drain, and so is every later row
for the same producer, so a producer's messages never overtake each other.

Failures: a row that carries an alert is marked ``failed`` whatever the cause and the alert
scheduler decides about a retry (its backoff and attempt limit; a retry is a new row). Any other
row (a reply) goes back to ``pending`` with the outbox's own backoff when the error is retryable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from agrochat.actors.whatsapp._channels import Channels
from agrochat.actors.whatsapp._outgoing import SendRateLimiter
from agrochat.actors.whatsapp._transports import TransportError
from agrochat.logs import get_logger
from agrochat.messages import Delivered, DeliveryFailed
from agrochat.persistence import AlertStore, OutboxMessage, OutboxStatus, OutboxStore, utcnow

log = get_logger(__name__)

# Longer than any transport timeout, so a slow send is not taken over while still running.
DEFAULT_LEASE_S = 60.0
DRAIN_BATCH = 20

Outcome = Delivered | DeliveryFailed


class OutboxSender:
    def __init__(
        self,
        outbox: OutboxStore,
        channels: Channels,
        *,
        alerts: AlertStore | None = None,
        template: str = "",
        limiter: Callable[[], SendRateLimiter] | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """``limiter`` makes one SendRateLimiter per channel (None: no limits)."""
        self.outbox = outbox
        self.channels = channels
        self.limiters = {c.name: limiter() for c in channels} if limiter else {}
        self.alerts = alerts
        self.template = template
        self.lease_s = lease_s
        self.clock = clock
        self.sent = 0
        self.failed = 0
        self.deferred = 0
        self.last_error: str | None = None
        # Producers with a row given back to the limiter: their later rows wait for the drain.
        self._held: set[str] = set()
        # The soonest a held row may go (seconds), for the owner's next drain.
        self.retry_in_s: float | None = None

    def share(self, senders: int) -> None:
        """``senders`` processes send through these numbers: each keeps its share of the rate."""
        for limiter in self.limiters.values():
            limiter.share(senders)

    def send(self, outbox_id: int) -> Outcome | None:
        """Send one row if it is still to be sent; None when someone else has it or it waits
        for the send rate (a drain sends it)."""
        row = self.outbox.claim_one(outbox_id, self.lease_s, now=self.clock())
        # None: a drain sent it already, or another process holds it; either reports it.
        if row is None or self._defer(row, self._held):
            return None
        return self._deliver(row)

    def drain(self, limit: int = DRAIN_BATCH) -> list[Outcome]:
        """Send rows left pending or whose lease ran out (a crash), oldest first."""
        rows = self.outbox.claim(limit, self.lease_s, now=self.clock())
        if rows:
            log.info("draining outbox", rows=len(rows))
        self.retry_in_s = None
        held: set[str] = set()
        outcomes = [self._deliver(row) for row in rows if not self._defer(row, held)]
        self._held = held
        return [outcome for outcome in outcomes if outcome is not None]

    def _defer(self, row: OutboxMessage, held: set[str]) -> bool:
        """Give the row back when the send rate says wait, or an earlier row of the same
        producer waits: order per producer comes before speed."""
        limiter = self.limiters.get(self.channels.get(row.channel).name)
        wait = 0.0
        if row.phone not in held and limiter is not None:
            wait = limiter.try_acquire(row.phone)
            if wait <= 0:
                return False
        elif row.phone not in held:
            return False
        self.outbox.release(row.id)
        held.add(row.phone)
        self.deferred += 1
        soonest = wait or 1.0
        self.retry_in_s = soonest if self.retry_in_s is None else min(self.retry_in_s, soonest)
        log.info("send deferred by the send rate", outbox_id=row.id, wait_s=round(wait, 2))
        return True

    def _deliver(self, row: OutboxMessage) -> Outcome | None:
        if not self.outbox.renew(row, self.lease_s, now=self.clock()):
            # An alert cancelled in the panel after the claim (the cancel takes the row with
            # the alert): the last moment it can still be stopped; nothing to report, the alert
            # is settled. Or the row's lease ran out while the rows before it in this drain
            # were sent, and another process has it now: sending it too would send it twice.
            log.info("row no longer ours to send", outbox_id=row.id, alert_id=row.alert_id)
            return None
        transport = self.channels.get(row.channel).transport
        if row.reply_to_id is not None:
            # The producer saw "escribiendo…" since their message came in; the reply ends it.
            stop_typing = getattr(transport, "stop_typing", None)
            if stop_typing is not None:
                try:
                    stop_typing(row.phone)
                except TransportError as exc:
                    log.debug("stopTyping failed", error=str(exc))
        try:
            gateway_id = transport.send(row.phone, row.text, template=self._template(row))
        except TransportError as exc:
            return self._failed(row, str(exc), retryable=exc.retryable)
        except Exception as exc:
            # A transport bug is not the message's fault: keep it and retry later.
            log.exception("transport crashed", outbox_id=row.id)
            return self._failed(row, f"{type(exc).__name__}: {exc}", retryable=True)
        if not self.outbox.mark_sent(row.id, gateway_id, now=self.clock()) and self._cancelled(row):
            # Cancelled during the send itself: it went out, but the row and the alert stay
            # cancelled (mark_sent never overwrites that) and the scheduler is not told.
            log.warning("alert cancelled while it was being sent", outbox_id=row.id)
            return None
        self.sent += 1
        return Delivered(outbox_id=row.id, gateway_message_id=gateway_id, alert_id=row.alert_id)

    def _cancelled(self, row: OutboxMessage) -> bool:
        if row.alert_id is None:
            return False
        now = self.outbox.get(row.id)
        return now is not None and now.status == OutboxStatus.CANCELLED

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
