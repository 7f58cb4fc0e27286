"""The audit trail: who changed what, written in the same transaction as the change."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import audit


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    details: str | None  # JSON


def record_audit(
    db: Database,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """One audit row; inside a caller's ``db.tx()`` it commits (or not) with the change."""
    with db.tx() as conn:
        conn.execute(
            audit.insert().values(
                at=now or utcnow(),
                actor=actor[:64],
                action=action[:64],
                target=target[:200] if target else None,
                details=json.dumps(details, ensure_ascii=False) if details is not None else None,
            )
        )


def recent_audit(db: Database, *, limit: int = 50, offset: int = 0) -> tuple[list[AuditEntry], int]:
    """A page of the trail, newest first, and how many entries there are in all."""
    with db.tx() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar()
        rows = conn.execute(
            sa.select(audit).order_by(audit.c.id.desc()).limit(limit).offset(offset)
        ).all()
    return [AuditEntry(**r._mapping) for r in rows], int(total or 0)


def last_escalation(db: Database, producer_id: int) -> tuple[dt.datetime, int | None] | None:
    """When the assistant last handed this producer to a person, and the message that caused
    it (the conversation records both in the trail)."""
    with db.tx() as conn:
        row = conn.execute(
            sa.select(audit.c.at, audit.c.details)
            .where(
                audit.c.action == "escalar_a_humano", audit.c.target == f"producer:{producer_id}"
            )
            .order_by(audit.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    try:
        message_id = json.loads(row.details or "{}").get("message_id")
    except (ValueError, AttributeError):
        message_id = None
    return row.at, message_id if isinstance(message_id, int) else None
