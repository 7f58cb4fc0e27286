"""Rows a conversation writes outside its own tables: model-raised alerts and audit entries.

A model-raised alert (``acciones.crear_alerta``) is inserted here directly with the schema's
``alerts`` table rather than through ``AlertStore.create``: that creates ``pending`` rows, which
the scheduler would push to the producer as a second message, while this alert's text already
reached the producer inside the reply. So it is stored ``sent`` with ``delivery="chat"`` in one
statement (no moment where a scheduler could claim it), for the admins' panel and for the
producer's future context.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from agrochat.persistence import AlertStore, Database, utcnow
from agrochat.persistence._schema import alerts

ALERT_CONTEXT_DAYS = 14
ALERT_CONTEXT_LIMIT = 3


def record_model_alert(
    db: Database,
    *,
    producer_id: int,
    phone: str,
    level: str,
    message: str,
    now: dt.datetime | None = None,
) -> int:
    now = now or utcnow()
    with db.tx() as conn:
        result = conn.execute(
            alerts.insert().values(
                producer_id=producer_id,
                phone=phone,
                message=message,
                level=level,
                source="model",
                status="sent",
                scheduled_at=now,
                attempts=0,
                delivery="chat",
                created_at=now,
                sent_at=now,
            )
        )
        return int(result.inserted_primary_key[0])


def recent_alerts(
    db: Database, producer_id: int, *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """What the producer has been alerted about lately (sent or going out), newest first."""
    now = now or utcnow()
    since = now - dt.timedelta(days=ALERT_CONTEXT_DAYS)
    found = AlertStore(db).recent(producer_id=producer_id, limit=20)
    relevant = [
        a
        for a in found
        if a.status in ("sent", "sending", "pending") and since <= a.scheduled_at <= now
    ]
    return [
        {"fecha": a.scheduled_at.date().isoformat(), "nivel": a.level, "mensaje": a.message}
        for a in relevant[:ALERT_CONTEXT_LIMIT]
    ]


def count_alerts(db: Database, **where: Any) -> int:
    """For tests and snapshots: alerts matching simple column equalities."""
    query = sa.select(sa.func.count()).select_from(alerts)
    for column, value in where.items():
        query = query.where(alerts.c[column] == value)
    with db.tx() as conn:
        return int(conn.execute(query).scalar() or 0)
