"""The alert scheduler's logic, without threads: given a time, what happens to which alert.

One ``tick(now)``:

1. expires stale alerts (past ``expires_at``);
2. runs the daily rules (crop stage, irrigation) once an hour, idempotently;
3. when a gateway is configured: records ``delivery='waiting'`` on due alerts that WhatsApp's
   24-hour window holds back (when no template is configured), claims due alerts with a lease
   and decides how each goes out (``text`` inside the window, ``template`` outside it);
   the actor hands those to the producers' sessions.

Without a gateway (``AGROCHAT_WHATSAPP=none``) step 3 is skipped: alerts stay ``pending`` for the
seed's pollers (``GET /alerts/pending``).

An admin may cancel an alert at any point: it is checked again before it is handed on, when its
outbox row is written (none for a cancelled alert) and right before the transport; the cancel
takes the alert's unsent outbox rows with it, and no later report turns it into ``sent``.

A claimed alert that already has an outbox row is not handed on again: a row that was sent
settles it as ``sent``; a row still waiting will be sent by the WhatsApp actor (which reports
back). So a crash anywhere between the claim and the gateway delays an alert, and the outbox
keeps it from going out twice.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from agrochat.actors.alerts._rules import PROFILE_FIELDS, RuleBook
from agrochat.logs import get_logger
from agrochat.persistence import WINDOW, AlertStore, OutboxStore, ProducerStore, utcnow

log = get_logger(__name__)

BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)
# Long enough for a session busy with a slow model reply to take the alert in turn; the outbox
# keeps a re-push after a lapsed lease from sending twice anyway.
DEFAULT_LEASE_S = 300.0
DEFAULT_BATCH = 50
RULES_EVERY = dt.timedelta(hours=1)


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min, ... capped at 1 h."""
    return min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_CAP)


def default_claimer_id() -> str:
    """Who holds a claim: host, process and a random part, unique per dispatcher."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Push:
    """A claimed alert to hand to the producer's session."""

    alert_id: int
    phone: str
    text: str
    delivery: str  # text | template


@dataclass
class TickReport:
    at: dt.datetime
    expired: int = 0
    created: int = 0
    waiting: int = 0
    settled: int = 0  # claimed alerts found already sent through the outbox
    in_flight: int = 0  # claimed alerts whose outbox row is still to be sent
    cancelled: int = 0  # claimed alerts an admin cancelled before they were handed on
    pushes: list[Push] = field(default_factory=list)


class AlertDispatcher:
    def __init__(
        self,
        store: AlertStore,
        *,
        deliver: bool,
        rules: RuleBook | None = None,
        template: str = "",
        max_attempts: int = 5,
        lease_s: float = DEFAULT_LEASE_S,
        batch: int = DEFAULT_BATCH,
        claimed_by: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.producers = ProducerStore(store.db)
        self.outbox = OutboxStore(store.db)
        self.deliver = deliver
        self.rules = rules
        self.template = template
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.batch = batch
        self.claimed_by = claimed_by or default_claimer_id()
        self.clock = clock
        self.rules_ran_at: dt.datetime | None = None

    def tick(self, now: dt.datetime | None = None) -> TickReport:
        now = now or self.clock()
        report = TickReport(at=now)
        report.expired = self.store.expire_due(now=now)
        if self.rules is not None and self._rules_due(now):
            report.created = self.run_rules(now)
        if not self.deliver:
            return report
        if not self.template:
            report.waiting = self.store.mark_waiting(now=now)
        claimed = self.store.claim_due(
            limit=self.batch,
            lease_s=self.lease_s,
            claimed_by=self.claimed_by,
            now=now,
            window_only=not self.template,
        )
        if not claimed:
            return report
        last_inbound = self.producers.last_inbound(a.producer_id for a in claimed if a.producer_id)
        for alert in claimed:
            outbox = self.outbox.alert_state(alert.id)
            if outbox == "sent":
                self.store.mark_sent(alert.id, now=now)
                report.settled += 1
                continue
            if outbox == "in_flight":
                report.in_flight += 1
                continue
            if alert.expires_at is not None and alert.expires_at <= now:
                # A lapsed claim, past its time, that never reached the outbox.
                self.store.expire_claimed(alert.id, claimed_by=self.claimed_by)
                report.expired += 1
                continue
            inbound = last_inbound.get(alert.producer_id) if alert.producer_id else None
            if inbound is not None and inbound >= now - WINDOW:
                delivery = "text"
            elif self.template:
                delivery = "template"
            else:
                # The window closed between the claim's check and now.
                self.store.release(alert.id, claimed_by=self.claimed_by, delivery="waiting")
                report.waiting += 1
                continue
            if not self.store.record_push(alert.id, delivery):
                # Cancelled in the panel since the claim: nothing goes to the session.
                report.cancelled += 1
                continue
            report.pushes.append(
                Push(
                    alert_id=alert.id,
                    phone=alert.phone or "",
                    text=alert.message,
                    delivery=delivery,
                )
            )
        return report

    def _rules_due(self, now: dt.datetime) -> bool:
        last = self.rules_ran_at
        return last is None or last.date() != now.date() or now - last >= RULES_EVERY

    def run_rules(self, now: dt.datetime | None = None) -> int:
        """Create today's rule alerts; returns how many are new."""
        now = now or self.clock()
        assert self.rules is not None
        new = []
        for producer_id, (phone, profile) in self.producers.profiles(PROFILE_FIELDS).items():
            new.extend(
                self.rules.alerts_for(
                    producer_id=producer_id, phone=phone, profile=profile, now=now
                )
            )
        created = len(self.store.create_many(new, now=now)) if new else 0
        self.rules_ran_at = now
        if created:
            log.info("rules created alerts", created=created)
        return created

    def delivered(self, alert_id: int, now: dt.datetime | None = None) -> None:
        self.store.mark_sent(alert_id, now=now or self.clock())

    def delivery_failed(
        self, alert_id: int, error: str, *, retryable: bool, now: dt.datetime | None = None
    ) -> str | None:
        """Retry later with backoff, or give up; returns the alert's new status."""
        alert = self.store.mark_failed_attempt(
            alert_id,
            error,
            retryable=retryable,
            max_attempts=self.max_attempts,
            backoff=backoff,
            now=now or self.clock(),
        )
        if alert is None:
            return None
        if alert.status == "failed":
            log.warning("alert failed", alert_id=alert_id, attempts=alert.attempts, error=error)
        return alert.status
