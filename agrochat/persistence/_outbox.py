"""The outbox: every outgoing WhatsApp message is a row here before it is sent.

A crash or a gateway outage delays a message, never loses it: rows wait as ``pending`` until a
sender claims them. A claim sets ``sending`` with a lease (``lease_until``); a sender that dies
mid-send leaves the row to be claimed again once the lease runs out. A row is marked ``sent``
with the gateway's message id, so it is never claimed again. A row of an alert an admin
cancelled is ``cancelled`` for good: never claimed, and a send already under way does not
make it ``sent``.

``lease_until`` means "nobody may claim this row before then" in both states: on a ``sending``
row it is the claimer's lease, on a ``pending`` row it is the retry backoff after a failure.

Claims are atomic on both databases: PostgreSQL locks the candidate rows with
``FOR UPDATE SKIP LOCKED`` (two processes on one database never claim the same row and never
wait on each other); SQLite, one process only, claims with a single guarded ``UPDATE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import alerts, outbox

# A retryable failure holds the row back for BASE * 2**(attempts-1), capped: a gateway outage
# does not turn into a tight retry loop.
RETRY_BASE = dt.timedelta(seconds=15)
RETRY_CAP = dt.timedelta(minutes=30)


class OutboxStatus(StrEnum):
    """The lifecycle above; the values are what the table stores."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # The row's alert was cancelled before it went out (``AlertStore.cancel``, same transaction).
    CANCELLED = "cancelled"


# Rows that went out or still will: an alert that has one is not given a second.
OUTBOX_LIVE = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    phone: str
    text: str
    alert_id: int | None
    reply_to_id: int | None
    status: str
    attempts: int
    last_error: str | None
    lease_until: dt.datetime | None
    gateway_message_id: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    channel: str | None = None
    delivery_status: str | None = None  # sent | delivered | read | failed, as the gateway says

    @classmethod
    def from_row(cls, row: Any) -> OutboxMessage:
        m = row._mapping
        return cls(**{f: m[f] for f in cls.__dataclass_fields__})


# The gateways' delivery states, in the order a message goes through them.
DELIVERY_ORDER = {"pending": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff after the ``attempts``-th failed attempt."""
    delay = RETRY_BASE * (2 ** max(0, attempts - 1))
    return min(delay, RETRY_CAP)


# AlertStatus.CANCELLED (the alerts' store imports this module, not the other way round).
CANCELLED_ALERT = "cancelled"


def _locked(query: sa.Select[Any], db: Database) -> sa.Select[Any]:
    return query.with_for_update() if db.is_postgres else query


def _claimable(now: dt.datetime) -> sa.ColumnElement[bool]:
    t = outbox.c
    return sa.or_(
        sa.and_(
            t.status == OutboxStatus.PENDING, sa.or_(t.lease_until.is_(None), t.lease_until <= now)
        ),
        sa.and_(t.status == OutboxStatus.SENDING, t.lease_until <= now),
    )


def cancel_alert_rows(conn: sa.Connection, alert_id: int) -> int:
    """Inside the transaction that cancels an alert: its rows not sent yet are cancelled with
    it, so no sender claims them afterwards. Returns how many."""
    result = conn.execute(
        outbox.update()
        .where(
            outbox.c.alert_id == alert_id,
            outbox.c.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
        )
        .values(status=OutboxStatus.CANCELLED, lease_until=None)
    )
    return int(result.rowcount or 0)


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(
        self,
        phone: str,
        text: str,
        *,
        alert_id: int | None = None,
        reply_to_id: int | None = None,
        channel: str | None = None,
        now: dt.datetime | None = None,
    ) -> int | None:
        """Persist one message to send (through ``channel``, our number); returns its id.

        For an alert, a row that is already waiting, being sent or sent is returned instead of a
        new one: an alert pushed twice (a scheduler lease that ran out while the producer's
        session was busy) still reaches the producer once. A cancelled alert gets no row: None.
        """
        now = now or utcnow()
        with self.db.tx() as conn:
            if alert_id is not None:
                # Locked on PostgreSQL: a cancel running now waits for this row to be committed,
                # and then cancels it with the alert (it cannot miss a row it does not see yet).
                status = conn.execute(
                    _locked(sa.select(alerts.c.status).where(alerts.c.id == alert_id), self.db)
                ).scalar()
                if status == CANCELLED_ALERT:
                    return None
                existing = conn.execute(
                    sa.select(outbox.c.id)
                    .where(
                        outbox.c.alert_id == alert_id,
                        outbox.c.status.in_(OUTBOX_LIVE),
                    )
                    .order_by(outbox.c.id)
                    .limit(1)
                ).scalar()
                if existing is not None:
                    return int(existing)
            result = conn.execute(
                outbox.insert().values(
                    phone=phone,
                    text=text,
                    alert_id=alert_id,
                    reply_to_id=reply_to_id,
                    channel=channel,
                    status=OutboxStatus.PENDING,
                    attempts=0,
                    created_at=now,
                )
            )
            return int(result.inserted_primary_key[0])

    def claim(
        self, limit: int, lease_s: float, now: dt.datetime | None = None
    ) -> list[OutboxMessage]:
        """Claim up to ``limit`` rows that are pending or whose lease ran out, oldest first."""
        now = now or utcnow()
        with self.db.tx() as conn:
            return self._claim(conn, _claimable(now), limit, lease_s, now)

    def claim_one(
        self, outbox_id: int, lease_s: float, now: dt.datetime | None = None
    ) -> OutboxMessage | None:
        """Claim one row by id; None when it is sent, failed, or leased by someone else."""
        now = now or utcnow()
        with self.db.tx() as conn:
            rows = self._claim(
                conn, sa.and_(outbox.c.id == outbox_id, _claimable(now)), 1, lease_s, now
            )
        return rows[0] if rows else None

    def _claim(
        self,
        conn: sa.Connection,
        where: sa.ColumnElement[bool],
        limit: int,
        lease_s: float,
        now: dt.datetime,
    ) -> list[OutboxMessage]:
        lease_until = now + dt.timedelta(seconds=lease_s)
        candidates = sa.select(outbox.c.id, outbox.c.phone).where(where).order_by(outbox.c.id)
        candidates = candidates.limit(limit)
        if self.db.is_postgres:
            candidates = candidates.with_for_update(skip_locked=True)
        chosen = self._in_turn(conn, conn.execute(candidates).all())
        if not chosen:
            return []
        # The claim condition is repeated in the UPDATE so that a row changed since it was
        # selected is not taken (on SQLite the statement is atomic anyway).
        rows = conn.execute(
            outbox.update()
            .where(outbox.c.id.in_(chosen), where)
            .values(status=OutboxStatus.SENDING, lease_until=lease_until)
            .returning(*outbox.c)
        ).all()
        return sorted((OutboxMessage.from_row(r) for r in rows), key=lambda m: m.id)

    @staticmethod
    def _in_turn(conn: sa.Connection, candidates: Sequence[Any]) -> list[int]:
        """The candidates whose producer has no earlier row still to send outside this claim:
        a producer's messages reach WhatsApp in the order they were written, even when two
        processes made them (consecutive turns on two processes) or an earlier one waits out
        a retry. An earlier row being claimed right now by another process is still pending
        to this transaction, so it holds the later one back too."""
        if not candidates:
            return []
        ids = {c.id for c in candidates}
        earlier = conn.execute(
            sa.select(outbox.c.id, outbox.c.phone).where(
                outbox.c.phone.in_({c.phone for c in candidates}),
                outbox.c.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
                outbox.c.id < max(ids),
            )
        ).all()
        first_blocked: dict[str, int] = {}
        for row in earlier:
            if row.id not in ids:
                first_blocked[row.phone] = min(row.id, first_blocked.get(row.phone, row.id))
        return [c.id for c in candidates if c.id < first_blocked.get(c.phone, c.id + 1)]

    def mark_sent(
        self, outbox_id: int, gateway_message_id: str | None, now: dt.datetime | None = None
    ) -> bool:
        """Record that the gateway accepted the row; False if it was already marked sent, or
        cancelled meanwhile (it stays ``cancelled``: the gateway's id is kept, for receipts)."""
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                outbox.update()
                .where(
                    outbox.c.id == outbox_id,
                    outbox.c.status.not_in((OutboxStatus.SENT, OutboxStatus.CANCELLED)),
                )
                .values(
                    status=OutboxStatus.SENT,
                    gateway_message_id=gateway_message_id,
                    lease_until=None,
                    sent_at=now,
                    attempts=outbox.c.attempts + 1,
                )
            )
            if result.rowcount > 0:
                return True
            conn.execute(
                outbox.update()
                .where(
                    outbox.c.id == outbox_id,
                    outbox.c.status == OutboxStatus.CANCELLED,
                    outbox.c.gateway_message_id.is_(None),
                )
                .values(gateway_message_id=gateway_message_id)
            )
            return False

    def renew(self, row: OutboxMessage, lease_s: float, now: dt.datetime | None = None) -> bool:
        """Whether ``row`` is still this claim's to send, its lease then starting again from
        now: the last check before the transport. False when it was cancelled since the claim,
        or when its lease ran out while earlier rows of the batch were sent and another
        process claimed it (its lease is no longer the one this claim set)."""
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                outbox.update()
                .where(
                    outbox.c.id == row.id,
                    outbox.c.status == OutboxStatus.SENDING,
                    outbox.c.lease_until == row.lease_until,
                )
                .values(lease_until=now + dt.timedelta(seconds=lease_s))
            )
        return bool(result.rowcount)

    def mark_failed(
        self,
        outbox_id: int,
        error: str,
        *,
        retryable: bool,
        now: dt.datetime | None = None,
    ) -> OutboxMessage | None:
        """Record a failed attempt.

        Retryable: back to ``pending``, held back by an exponential backoff. Otherwise ``failed``
        for good. A row already sent or cancelled is left alone. Returns the row as it now is.
        """
        now = now or utcnow()
        with self.db.tx() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.id == outbox_id)).first()
            if row is None:
                return None
            if row.status in (OutboxStatus.SENT, OutboxStatus.CANCELLED):
                return OutboxMessage.from_row(row)
            attempts = row.attempts + 1
            values: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000]}
            if retryable:
                values.update(status=OutboxStatus.PENDING, lease_until=now + retry_delay(attempts))
            else:
                values.update(status=OutboxStatus.FAILED, lease_until=None)
            conn.execute(outbox.update().where(outbox.c.id == outbox_id).values(**values))
            updated = conn.execute(sa.select(outbox).where(outbox.c.id == outbox_id)).one()
            return OutboxMessage.from_row(updated)

    def get(self, outbox_id: int) -> OutboxMessage | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.id == outbox_id)).first()
            return OutboxMessage.from_row(row) if row is not None else None

    def for_alert(self, alert_id: int) -> list[OutboxMessage]:
        """Every row an alert produced, oldest first."""
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(outbox).where(outbox.c.alert_id == alert_id).order_by(outbox.c.id)
            ).all()
            return [OutboxMessage.from_row(r) for r in rows]

    def alert_state(self, alert_id: int) -> str | None:
        """The furthest state an alert's rows reached: 'sent', 'in_flight' or None (no row, or
        only failed ones)."""
        with self.db.tx() as conn:
            statuses = set(
                conn.execute(
                    sa.select(outbox.c.status).where(outbox.c.alert_id == alert_id)
                ).scalars()
            )
        if OutboxStatus.SENT in statuses:
            return "sent"
        if statuses & {OutboxStatus.PENDING, OutboxStatus.SENDING}:
            return "in_flight"
        return None

    def counts(self) -> dict[str, int]:
        """Rows per status, for /health and snapshots."""
        return self.db.count_by(outbox.c.status)

    def release(self, outbox_id: int) -> None:
        """Give a claimed row back untouched (not sent yet: a send-rate limit said wait)."""
        with self.db.tx() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == outbox_id, outbox.c.status == OutboxStatus.SENDING)
                .values(status=OutboxStatus.PENDING, lease_until=None)
            )

    def record_delivery(
        self,
        gateway_message_id: str,
        state: str,
        *,
        error: str | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """What the gateway says became of a message we sent. States only move forward (a late
        "delivered" does not undo "read"); "failed" always counts. False: no such message."""
        now = now or utcnow()
        rank = DELIVERY_ORDER.get(state)
        if rank is None:
            return False
        earlier = [s for s, r in DELIVERY_ORDER.items() if r < rank]
        values: dict[str, Any] = {"delivery_status": state}
        if state == "delivered":
            values["delivered_at"] = now
        elif state == "read":
            values["read_at"] = now
        elif state == "failed":
            values["delivery_error"] = error
        with self.db.tx() as conn:
            exists = conn.execute(
                sa.select(outbox.c.id).where(outbox.c.gateway_message_id == gateway_message_id)
            ).first()
            if exists is None:
                return False
            movable = sa.or_(
                outbox.c.delivery_status.is_(None), outbox.c.delivery_status.in_(earlier)
            )
            if state == "failed":
                movable = sa.true()
            conn.execute(
                outbox.update()
                .where(outbox.c.gateway_message_id == gateway_message_id, movable)
                .values(**values)
            )
            return True

    def deliveries_of(self, message_ids: Sequence[int]) -> dict[int, str]:
        """For each of our messages (reply ids), how far it got: the outbox row's delivery
        state, else its sending state (pending, sending, failed)."""
        if not message_ids:
            return {}
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(outbox.c.reply_to_id, outbox.c.status, outbox.c.delivery_status)
                .where(outbox.c.reply_to_id.in_(list(message_ids)))
                .order_by(outbox.c.id)
            ).all()
            return {int(r.reply_to_id): r.delivery_status or r.status for r in rows}

    def alert_deliveries(self, alert_ids: Sequence[int]) -> dict[int, str]:
        """For each alert, how far its latest outbox row got: the gateway's delivery state
        (sent, delivered, read, failed), else the row's sending state."""
        if not alert_ids:
            return {}
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(outbox.c.alert_id, outbox.c.status, outbox.c.delivery_status)
                .where(outbox.c.alert_id.in_(list(alert_ids)))
                .order_by(outbox.c.id)
            ).all()
            return {int(r.alert_id): r.delivery_status or r.status for r in rows}
