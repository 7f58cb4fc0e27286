"""Rows the alert tests need, inserted directly so these tests depend only on the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from agrochat.persistence import Database, utcnow
from tests.schema import alerts, form_fields, producers


def add_producer(
    db: Database,
    phone: str,
    *,
    fields: dict[str, str] | None = None,
    last_inbound_at: dt.datetime | None = None,
    status: str = "activo",
) -> int:
    now = utcnow()
    with db.tx() as conn:
        pid = conn.execute(
            producers.insert().values(
                phone=phone,
                status=status,
                created_at=now,
                updated_at=now,
                last_inbound_at=last_inbound_at,
            )
        ).inserted_primary_key[0]
        for field, value in (fields or {}).items():
            conn.execute(
                form_fields.insert().values(
                    producer_id=pid,
                    form="perfil",
                    field=field,
                    value=value,
                    source="api",
                    updated_at=now,
                )
            )
    return int(pid)


def set_last_inbound(db: Database, producer_id: int, at: dt.datetime | None) -> None:
    with db.tx() as conn:
        conn.execute(
            producers.update().where(producers.c.id == producer_id).values(last_inbound_at=at)
        )


def set_field(db: Database, producer_id: int, field: str, value: str) -> None:
    with db.tx() as conn:
        updated = conn.execute(
            form_fields.update()
            .where(form_fields.c.producer_id == producer_id, form_fields.c.field == field)
            .values(value=value)
        ).rowcount
        if not updated:
            conn.execute(
                form_fields.insert().values(
                    producer_id=producer_id,
                    form="perfil",
                    field=field,
                    value=value,
                    source="api",
                    updated_at=utcnow(),
                )
            )


def count(db: Database, table: sa.Table, **where: Any) -> int:
    """Rows of ``table`` whose columns equal ``where``."""
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with db.tx() as conn:
        return int(conn.execute(query).scalar() or 0)


def count_alerts(db: Database, **where: Any) -> int:
    return count(db, alerts, **where)
