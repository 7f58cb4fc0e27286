"""Alerts: rows with a lifecycle, never timers, so they survive a restart.

Lifecycle: ``pending`` (waiting for ``scheduled_at``, a retry backoff or the 24-hour window) ->
``sending`` (claimed by one scheduler, with a lease) -> ``sent`` | ``failed`` | ``cancelled`` |
``expired``. A scheduler that dies after claiming leaves the row ``sending``; once its lease runs
out any scheduler may claim it again.

As in the outbox, ``lease_until`` means "nobody may claim this row before then": the lease of a
``sending`` row, the retry backoff of a ``pending`` one.

Claims are atomic: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` then an ``UPDATE`` in one
transaction, so two agrochat processes on one database never claim the same alert; on SQLite (one
process) a single guarded ``UPDATE ... RETURNING``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._days import Days, count_per_day
from agrochat.persistence._outbox import OUTBOX_LIVE, cancel_alert_rows
from agrochat.persistence._producers import EXPORT_BATCH, ProducerStore
from agrochat.persistence._schema import alerts, outbox, producers
from agrochat.phones import normalize_phone

LEVELS = ("baja", "media", "alta")
SOURCES = ("admin", "api", "model", "rule")
# Alerts are about the weather, pests and this week's irrigation: two days late, they mislead.
DEFAULT_TTL = dt.timedelta(hours=48)
MAX_MESSAGE_CHARS = 1000
WINDOW = dt.timedelta(hours=24)


class AlertStatus(StrEnum):
    """The lifecycle above; the values are what the table stores."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


STATUSES = tuple(AlertStatus)


@dataclass(frozen=True)
class Alert:
    id: int
    producer_id: int | None
    phone: str | None
    message: str
    level: str
    source: str
    status: str
    scheduled_at: dt.datetime
    expires_at: dt.datetime | None
    attempts: int
    last_error: str | None
    lease_until: dt.datetime | None
    claimed_by: str | None
    delivery: str | None
    rule_key: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Alert:
        m = row._mapping
        return cls(**{f: m[f] for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NewAlert:
    """One alert to create (used for batches: segments and rules)."""

    phone: str
    message: str
    level: str
    source: str
    producer_id: int | None = None
    scheduled_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    rule_key: str | None = None


def _validate(level: str, source: str, message: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if not message.strip():
        raise ValueError("message must not be empty")


def _claimable(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Pending, due and unexpired; or claimed by someone whose lease ran out (expired or not:
    its outbox row may have been sent, and only a new claim settles that)."""
    c = alerts.c
    return sa.or_(
        sa.and_(
            c.status == AlertStatus.PENDING,
            c.scheduled_at <= now,
            sa.or_(c.lease_until.is_(None), c.lease_until <= now),
            sa.or_(c.expires_at.is_(None), c.expires_at > now),
        ),
        sa.and_(c.status == AlertStatus.SENDING, c.lease_until <= now),
    )


def _within_window(now: dt.datetime) -> sa.ColumnElement[bool]:
    """The alert's producer wrote to us within the last 24 hours (WhatsApp's service window)."""
    recent = sa.select(producers.c.id).where(producers.c.last_inbound_at >= now - WINDOW)
    return alerts.c.producer_id.in_(recent.scalar_subquery())


class AlertStore:
    def __init__(self, db: Database, *, default_ttl: dt.timedelta = DEFAULT_TTL) -> None:
        self.db = db
        self.default_ttl = default_ttl

    # -- creating ------------------------------------------------------------------------

    def create(
        self,
        *,
        phone: str,
        message: str,
        level: str,
        source: str,
        producer_id: int | None = None,
        scheduled_at: dt.datetime | None = None,
        expires_at: dt.datetime | None = None,
        rule_key: str | None = None,
        now: dt.datetime | None = None,
    ) -> int:
        """Create one alert; returns its id. ``phone`` in any form normalize_phone accepts.

        ``producer_id`` is looked up from the phone when not given (None if nobody has that
        phone yet). ValueError on a bad level, source, message or phone.
        """
        ids = self.create_many(
            [
                NewAlert(
                    phone=phone,
                    message=message,
                    level=level,
                    source=source,
                    producer_id=producer_id,
                    scheduled_at=scheduled_at,
                    expires_at=expires_at,
                    rule_key=rule_key,
                )
            ],
            now=now,
        )
        if not ids:
            # Only a rule_key that already exists creates nothing; return the existing alert.
            existing = self.by_rule_key(rule_key) if rule_key else None
            if existing is None:
                raise RuntimeError("alert was not created")
            return existing.id
        return ids[0]

    def create_many(self, new: Iterable[NewAlert], *, now: dt.datetime | None = None) -> list[int]:
        """Create alerts in one transaction; returns the ids created, in order.

        An alert whose ``rule_key`` already exists is skipped (rules are idempotent), also when
        two processes create it at once.
        """
        now = now or utcnow()
        items = list(new)
        rows: list[dict[str, Any]] = []
        for item in items:
            _validate(item.level, item.source, item.message)
            phone = normalize_phone(item.phone)
            scheduled = item.scheduled_at or now
            rows.append(
                {
                    "producer_id": item.producer_id,
                    "phone": phone,
                    "message": item.message,
                    "level": item.level,
                    "source": item.source,
                    "status": AlertStatus.PENDING,
                    "scheduled_at": scheduled,
                    "expires_at": item.expires_at or scheduled + self.default_ttl,
                    "attempts": 0,
                    "rule_key": item.rule_key,
                    "created_at": now,
                }
            )
        ids: list[int] = []
        with self.db.tx() as conn:
            missing = {r["phone"] for r in rows if r["producer_id"] is None}
            if missing:
                found = dict(
                    conn.execute(
                        sa.select(producers.c.phone, producers.c.id).where(
                            producers.c.phone.in_(missing)
                        )
                    ).all()
                )
                for r in rows:
                    if r["producer_id"] is None:
                        r["producer_id"] = found.get(r["phone"])
            for r in rows:
                if r["rule_key"] is None:
                    result = conn.execute(alerts.insert().values(**r))
                    ids.append(int(result.inserted_primary_key[0]))
                    continue
                insert = (postgresql if self.db.is_postgres else sqlite).insert(alerts)
                stmt = (
                    insert.values(**r)
                    .on_conflict_do_nothing(index_elements=["rule_key"])
                    .returning(alerts.c.id)
                )
                created = conn.execute(stmt).scalar()
                if created is not None:
                    ids.append(int(created))
        return ids

    def record_model_alert(
        self,
        *,
        producer_id: int,
        phone: str,
        level: str,
        message: str,
        now: dt.datetime | None = None,
    ) -> int:
        """An alert the model raised inside a reply; returns its id.

        Stored ``sent`` with ``delivery="chat"`` in one statement, for the admins' panel and the
        producer's future context: its text already reached the producer inside the reply, and
        a ``pending`` row (``create``) would be pushed to them again by the scheduler.
        """
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                alerts.insert().values(
                    producer_id=producer_id,
                    phone=phone,
                    message=message,
                    level=level,
                    source="model",
                    status=AlertStatus.SENT,
                    scheduled_at=now,
                    attempts=0,
                    delivery="chat",
                    created_at=now,
                    sent_at=now,
                )
            )
            return int(result.inserted_primary_key[0])

    def create_for(
        self,
        *,
        phone: str | None,
        segment: Mapping[str, str] | None,
        message: str,
        level: str,
        source: str,
        scheduled_at: dt.datetime | None = None,
        expires_at: dt.datetime | None = None,
    ) -> list[int]:
        """The alerts of one request: for ``phone`` when given, else for ``segment``."""
        if phone is not None:
            return [
                self.create(
                    phone=phone,
                    message=message,
                    level=level,
                    source=source,
                    scheduled_at=scheduled_at,
                    expires_at=expires_at,
                )
            ]
        return self.create_for_segment(
            segment,
            message=message,
            level=level,
            source=source,
            scheduled_at=scheduled_at,
            expires_at=expires_at,
        )

    def create_for_segment(
        self,
        segment: Mapping[str, str] | None,
        *,
        message: str,
        level: str,
        source: str,
        scheduled_at: dt.datetime | None = None,
        expires_at: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> list[int]:
        """One alert per active producer whose profile matches every field of ``segment``
        (case and surrounding spaces ignored); ``None`` means every active producer."""
        targets = ProducerStore(self.db).in_segment(segment)
        return self.create_many(
            (
                NewAlert(
                    phone=phone,
                    producer_id=pid,
                    message=message,
                    level=level,
                    source=source,
                    scheduled_at=scheduled_at,
                    expires_at=expires_at,
                )
                for pid, phone in targets
            ),
            now=now,
        )

    # -- reading -------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
            return Alert.from_row(row) if row is not None else None

    def by_rule_key(self, rule_key: str) -> Alert | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.rule_key == rule_key)).first()
            return Alert.from_row(row) if row is not None else None

    def recent(
        self,
        *,
        status: str | None = None,
        producer_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Alert]:
        """Newest first; for the admin panel."""
        query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit).offset(offset)
        if status is not None:
            query = query.where(alerts.c.status == status)
        if producer_id is not None:
            query = query.where(alerts.c.producer_id == producer_id)
        with self.db.tx() as conn:
            return [Alert.from_row(r) for r in conn.execute(query)]

    def pending_due(self, *, limit: int = 200, now: dt.datetime | None = None) -> list[Alert]:
        """What the seed's pollers are given: pending, due and not expired, oldest first."""
        now = now or utcnow()
        c = alerts.c
        query = (
            sa.select(alerts)
            .where(
                c.status == AlertStatus.PENDING,
                c.scheduled_at <= now,
                sa.or_(c.expires_at.is_(None), c.expires_at > now),
            )
            .order_by(c.scheduled_at, c.id)
            .limit(limit)
        )
        with self.db.tx() as conn:
            return [Alert.from_row(r) for r in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        """Alerts per status."""
        return self.db.count_by(alerts.c.status)

    # -- the lifecycle ---------------------------------------------------------------------

    def mark_sent(self, alert_id: int, *, now: dt.datetime | None = None) -> bool | None:
        """Mark one alert sent. True if it changed, False if it already was (or was cancelled),
        None if unknown.

        Delivery is a fact: an alert the gateway accepted is ``sent`` whatever state a
        scheduler had moved it to meanwhile (expired, failed). Only an admin's cancel stands:
        a report arriving after it (a send that was already under way, a bridge polling the
        seed's API) never turns ``cancelled`` into ``sent``.
        """
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                alerts.update()
                .where(
                    alerts.c.id == alert_id,
                    alerts.c.status.not_in((AlertStatus.SENT, AlertStatus.CANCELLED)),
                )
                .values(status=AlertStatus.SENT, sent_at=now, lease_until=None)
            )
            if result.rowcount:
                return True
            exists = conn.execute(sa.select(alerts.c.id).where(alerts.c.id == alert_id)).first()
            return False if exists is not None else None

    def cancel(self, alert_id: int) -> bool:
        """Cancel an alert that has not gone out; False if it is sent, finished or unknown.

        Its outbox rows not sent yet are cancelled in the same transaction: an alert already
        claimed and queued (``sending``) does not go out after the admin cancelled it.
        """
        with self.db.tx() as conn:
            result = conn.execute(
                alerts.update()
                .where(
                    alerts.c.id == alert_id,
                    alerts.c.status.in_((AlertStatus.PENDING, AlertStatus.SENDING)),
                )
                .values(status=AlertStatus.CANCELLED, lease_until=None)
            )
            if result.rowcount == 0:
                return False
            cancel_alert_rows(conn, alert_id)
            return True

    def expire_due(self, *, now: dt.datetime | None = None) -> int:
        """Expire pending alerts past ``expires_at``, and claimed ones whose lease also ran out
        unless the outbox holds them (a row waiting to go or sent: the outbox settles those)."""
        now = now or utcnow()
        c = alerts.c
        in_outbox = sa.exists().where(outbox.c.alert_id == c.id, outbox.c.status.in_(OUTBOX_LIVE))
        with self.db.tx() as conn:
            result = conn.execute(
                alerts.update()
                .where(
                    c.expires_at <= now,
                    sa.or_(
                        c.status == AlertStatus.PENDING,
                        sa.and_(c.status == AlertStatus.SENDING, c.lease_until <= now, ~in_outbox),
                    ),
                )
                .values(status=AlertStatus.EXPIRED, lease_until=None)
            )
            return int(result.rowcount)

    def mark_waiting(self, *, now: dt.datetime | None = None) -> int:
        """Record ``delivery='waiting'`` on due alerts held back by the 24-hour window."""
        now = now or utcnow()
        c = alerts.c
        with self.db.tx() as conn:
            result = conn.execute(
                alerts.update()
                .where(
                    _claimable(now),
                    c.status == AlertStatus.PENDING,
                    sa.or_(c.delivery.is_(None), c.delivery != "waiting"),
                    sa.or_(c.producer_id.is_(None), sa.not_(_within_window(now))),
                )
                .values(delivery="waiting")
            )
            return int(result.rowcount)

    def claim_due(
        self,
        *,
        limit: int,
        lease_s: float,
        claimed_by: str,
        now: dt.datetime | None = None,
        window_only: bool = False,
    ) -> list[Alert]:
        """Claim up to ``limit`` due alerts (``sending`` with a lease), oldest schedule first.

        ``window_only``: only alerts whose producer wrote within 24 hours (no template to reach
        the others). A claim is not an attempt yet: ``record_push`` counts it.
        """
        now = now or utcnow()
        where = _claimable(now)
        if window_only:
            # A lapsed claim is taken whatever the window: its outbox row may already have
            # been sent, and only a claim settles that.
            where = sa.and_(
                where, sa.or_(alerts.c.status == AlertStatus.SENDING, _within_window(now))
            )
        lease_until = now + dt.timedelta(seconds=lease_s)
        candidates = (
            sa.select(alerts.c.id)
            .where(where)
            .order_by(alerts.c.scheduled_at, alerts.c.id)
            .limit(limit)
        )
        with self.db.tx() as conn:
            if self.db.is_postgres:
                ids: Sequence[Any] = (
                    conn.execute(candidates.with_for_update(skip_locked=True, of=alerts))
                    .scalars()
                    .all()
                )
                if not ids:
                    return []
                target: Any = ids
            else:
                target = candidates.scalar_subquery()
            rows = conn.execute(
                alerts.update()
                .where(alerts.c.id.in_(target), where)
                .values(
                    status=AlertStatus.SENDING,
                    lease_until=lease_until,
                    claimed_by=claimed_by,
                )
                .returning(*alerts.c)
            ).all()
        alerts_ = [Alert.from_row(r) for r in rows]
        return sorted(alerts_, key=lambda a: (a.scheduled_at, a.id))

    def expire_claimed(self, alert_id: int, *, claimed_by: str) -> bool:
        with self.db.tx() as conn:
            result = conn.execute(
                alerts.update()
                .where(
                    alerts.c.id == alert_id,
                    alerts.c.status == AlertStatus.SENDING,
                    alerts.c.claimed_by == claimed_by,
                )
                .values(status=AlertStatus.EXPIRED, lease_until=None)
            )
            return result.rowcount > 0

    def record_push(self, alert_id: int, delivery: str) -> bool:
        """A claimed alert is handed on for delivery as ``delivery`` (text | template); False
        when it is no longer ``sending`` (cancelled since the claim): nothing to hand on."""
        with self.db.tx() as conn:
            result = conn.execute(
                alerts.update()
                .where(alerts.c.id == alert_id, alerts.c.status == AlertStatus.SENDING)
                .values(delivery=delivery, attempts=alerts.c.attempts + 1)
            )
            return result.rowcount > 0

    def release(
        self,
        alert_id: int,
        *,
        claimed_by: str,
        delivery: str | None = None,
        hold_until: dt.datetime | None = None,
    ) -> bool:
        """Give a claimed alert back (``pending``), held until ``hold_until``."""
        values: dict[str, Any] = {"status": AlertStatus.PENDING, "lease_until": hold_until}
        if delivery is not None:
            values["delivery"] = delivery
        with self.db.tx() as conn:
            result = conn.execute(
                alerts.update()
                .where(
                    alerts.c.id == alert_id,
                    alerts.c.status == AlertStatus.SENDING,
                    alerts.c.claimed_by == claimed_by,
                )
                .values(**values)
            )
            return result.rowcount > 0

    def mark_failed_attempt(
        self,
        alert_id: int,
        error: str,
        *,
        retryable: bool,
        max_attempts: int,
        backoff: Callable[[int], dt.timedelta],
        now: dt.datetime | None = None,
    ) -> Alert | None:
        """After a failed delivery: back to ``pending``, held for ``backoff(attempts)``, or
        ``failed`` when not retryable or out of attempts. None unless the alert was ``sending``
        (a late report about an alert already settled changes nothing)."""
        now = now or utcnow()
        with self.db.tx() as conn:
            row = conn.execute(
                sa.select(alerts.c.status, alerts.c.attempts).where(alerts.c.id == alert_id)
            ).first()
            if row is None or row.status != AlertStatus.SENDING:
                return None
            give_up = not retryable or row.attempts >= max_attempts
            conn.execute(
                alerts.update()
                .where(alerts.c.id == alert_id, alerts.c.status == AlertStatus.SENDING)
                .values(
                    status=AlertStatus.FAILED if give_up else AlertStatus.PENDING,
                    last_error=error[:2000],
                    lease_until=None if give_up else now + backoff(row.attempts),
                )
            )
            updated = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).one()
            return Alert.from_row(updated)

    # -- exports -------------------------------------------------------------------------

    def batches(
        self, *, status: str | None = None, size: int = EXPORT_BATCH
    ) -> Iterator[list[Alert]]:
        """Every alert (of ``status``, when given), oldest first, ``size`` at a time, each batch
        its own short transaction (keyset pagination on the id: see
        ``ProducerStore.profile_batches``)."""
        last = 0
        while True:
            query = sa.select(alerts).where(alerts.c.id > last)
            if status is not None:
                query = query.where(alerts.c.status == status)
            with self.db.tx() as conn:
                rows = conn.execute(query.order_by(alerts.c.id).limit(size)).all()
            if not rows:
                return
            batch = [Alert.from_row(r) for r in rows]
            yield batch
            if len(batch) < size:
                return
            last = batch[-1].id

    # -- per day, for the panel's charts -------------------------------------------------------

    def daily_deliveries(self, days: Days) -> dict[str, list[int]]:
        """Alerts on each of ``days``: ``"sent"`` (by the day they went out), ``"failed"``
        (failed or expired undelivered) and ``"waiting"`` (pending or being sent), by the day
        they were due. Cancelled alerts were nobody's to deliver and are left out."""
        a = alerts.c
        kind = sa.case(
            (a.status == AlertStatus.SENT, "sent"),
            (a.status.in_([AlertStatus.FAILED, AlertStatus.EXPIRED]), "failed"),
            else_="waiting",
        )
        with self.db.tx() as conn:
            counts = count_per_day(
                conn,
                days,
                sa.func.coalesce(a.sent_at, a.scheduled_at),
                a.status != AlertStatus.CANCELLED,
                key=kind,
            )
        return {k: counts.get(k, days.zeros()) for k in ("sent", "failed", "waiting")}
