"""What the admin panel reads that no store offers (counts, search, the audit trail), and the
audit rows it writes. Read-only except ``record_audit``; every change of state goes through the
stores (ProducerStore, AlertStore, KnowledgeStore) or the producer's session."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from agrochat.persistence import Database
from agrochat.persistence._schema import alerts, audit, form_fields, messages, producers


@dataclass(frozen=True)
class DashboardCounts:
    producers_by_status: dict[str, int]
    needs_human: int
    messages_in_today: int
    messages_out_today: int
    failed_in_today: int
    alerts_by_status: dict[str, int]

    @property
    def producers_total(self) -> int:
        return sum(self.producers_by_status.values())


@dataclass(frozen=True)
class ProducerRow:
    id: int
    phone: str
    name: str | None
    status: str
    needs_human: bool
    cultivo: str | None
    distrito: str | None
    last_inbound_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    details: str | None


def dashboard_counts(db: Database, *, day_start: dt.datetime) -> DashboardCounts:
    """``day_start``: the producers' midnight today, in naive UTC."""
    m = messages.c
    with db.tx() as conn:
        by_status = dict(
            conn.execute(
                sa.select(producers.c.status, sa.func.count()).group_by(producers.c.status)
            ).all()
        )
        flagged = conn.execute(
            sa.select(sa.func.count())
            .select_from(producers)
            .where(producers.c.needs_human == sa.true())
        ).scalar()
        today = dict(
            conn.execute(
                sa.select(m.direction, sa.func.count())
                .where(m.created_at >= day_start)
                .group_by(m.direction)
            ).all()
        )
        failed = conn.execute(
            sa.select(sa.func.count())
            .select_from(messages)
            .where(m.created_at >= day_start, m.direction == "in", m.status == "failed")
        ).scalar()
        alert_counts = dict(
            conn.execute(
                sa.select(alerts.c.status, sa.func.count()).group_by(alerts.c.status)
            ).all()
        )
    return DashboardCounts(
        producers_by_status={k: int(v) for k, v in by_status.items()},
        needs_human=int(flagged or 0),
        messages_in_today=int(today.get("in", 0)),
        messages_out_today=int(today.get("out", 0)),
        failed_in_today=int(failed or 0),
        alerts_by_status={k: int(v) for k, v in alert_counts.items()},
    )


def _field_value(name: str) -> sa.ScalarSelect[Any]:
    f = form_fields.c
    return (
        sa.select(f.value)
        .where(f.producer_id == producers.c.id, f.form == "perfil", f.field == name)
        .limit(1)
        .scalar_subquery()
    )


def search_producers(
    db: Database,
    *,
    query: str = "",
    crop: str | None = None,
    status: str | None = None,
    needs_human: bool = False,
    limit: int = 25,
    offset: int = 0,
) -> tuple[list[ProducerRow], int]:
    """Producers matching ``query`` (part of the phone, the name or the crop), newest activity
    first; and how many match in all. ``crop``: the crop's canonical form when the query names
    one ("maiz" finds "maíz")."""
    cultivo = _field_value("cultivo").label("cultivo")
    distrito = _field_value("distrito").label("distrito")
    p = producers.c
    conditions: list[sa.ColumnElement[bool]] = []
    query = query.strip()
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        matches = [
            p.name.icontains(query, autoescape=True),
            _field_value("cultivo").icontains(query, autoescape=True),
            _field_value("distrito").icontains(query, autoescape=True),
        ]
        if digits and len(digits) >= 3:
            matches.append(p.phone.contains(digits, autoescape=True))
        if crop:
            matches.append(sa.func.lower(_field_value("cultivo")) == crop.lower())
        conditions.append(sa.or_(*matches))
    if status:
        conditions.append(p.status == status)
    if needs_human:
        conditions.append(p.needs_human == sa.true())
    with db.tx() as conn:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(producers).where(*conditions)
        ).scalar()
        rows = conn.execute(
            sa.select(
                p.id,
                p.phone,
                p.name,
                p.status,
                p.needs_human,
                p.last_inbound_at,
                p.created_at,
                cultivo,
                distrito,
            )
            .where(*conditions)
            .order_by(
                p.needs_human.desc(),
                sa.func.coalesce(p.last_inbound_at, p.created_at).desc(),
                p.id.desc(),
            )
            .limit(limit)
            .offset(offset)
        ).all()
    return (
        [
            ProducerRow(
                id=int(r.id),
                phone=r.phone,
                name=r.name,
                status=r.status,
                needs_human=bool(r.needs_human),
                cultivo=r.cultivo,
                distrito=r.distrito,
                last_inbound_at=r.last_inbound_at,
                created_at=r.created_at,
            )
            for r in rows
        ],
        int(total or 0),
    )


def recent_audit(db: Database, *, limit: int = 50, offset: int = 0) -> tuple[list[AuditRow], int]:
    with db.tx() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar()
        rows = conn.execute(
            sa.select(audit).order_by(audit.c.id.desc()).limit(limit).offset(offset)
        ).all()
    return (
        [
            AuditRow(
                id=int(r.id),
                at=r.at,
                actor=r.actor,
                action=r.action,
                target=r.target,
                details=r.details,
            )
            for r in rows
        ],
        int(total or 0),
    )


def last_escalation(db: Database, producer_id: int) -> tuple[dt.datetime, int | None] | None:
    """When the assistant last handed this producer to a person, and the message that caused
    it (the conversation records both in ``audit``)."""
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


def alerts_with_names(db: Database, producer_ids: set[int]) -> dict[int, str | None]:
    """Producer names for a page of alerts (one query, not one per row)."""
    if not producer_ids:
        return {}
    with db.tx() as conn:
        rows = conn.execute(
            sa.select(producers.c.id, producers.c.name).where(producers.c.id.in_(producer_ids))
        ).all()
    return {int(pid): name for pid, name in rows}


def count_alerts(db: Database, *, status: str | None) -> int:
    query = sa.select(sa.func.count()).select_from(alerts)
    if status:
        query = query.where(alerts.c.status == status)
    with db.tx() as conn:
        return int(conn.execute(query).scalar() or 0)
