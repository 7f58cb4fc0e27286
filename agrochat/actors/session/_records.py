"""A conversation's alerts: the one the model raises in a reply (stored by ``AlertStore``), and
the recent ones the producer's context shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from agrochat.persistence import AlertStore, Database, utcnow

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
    return AlertStore(db).record_model_alert(
        producer_id=producer_id, phone=phone, level=level, message=message, now=now
    )


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
