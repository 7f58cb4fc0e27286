"""Leases: one holder at a time for a named thing, until the lease expires.

A lease (``gateway:waha:default``: the WAHA session's event stream) is taken when it is free (no
row), expired, or already ours, in one atomic step on both databases: a guarded ``UPDATE`` of
the row (PostgreSQL re-checks the guard on the row another transaction just committed, so of
two processes racing exactly one matches), and an ``INSERT … ON CONFLICT DO NOTHING`` when there
is no row yet. Renewing is the same step; only the holder can renew, and a lease no one took
while it was expired is simply ours again. A clean stop releases (deletes) the row so a standby
takes over at once instead of waiting out the expiry.

Time: every process compares ``expires_at`` with its own ``utcnow()``. Processes on one
database are expected to have NTP-synchronised clocks; a clock that runs ahead takes a lease
early by its skew, which is why the holder gives its lease up a margin before ``expires_at``
(agrochat.actors.membership) and the TTL is seconds, not milliseconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import leases


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    acquired_at: dt.datetime
    renewed_at: dt.datetime
    expires_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> Lease:
        m = row._mapping
        return cls(**{f: m[f] for f in cls.__dataclass_fields__})

    def expired(self, now: dt.datetime) -> bool:
        return self.expires_at <= now


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def acquire(
        self, name: str, holder: str, ttl_s: float, *, now: dt.datetime | None = None
    ) -> Lease | None:
        """Take or renew ``name`` for ``holder`` until ``now + ttl_s``: the lease, or None when
        another holder has it and it has not expired."""
        now = now or utcnow()
        expires_at = now + dt.timedelta(seconds=ttl_s)
        t = leases.c
        with self.db.tx() as conn:
            taken = conn.execute(
                leases.update()
                .where(t.name == name, sa.or_(t.holder == holder, t.expires_at <= now))
                .values(
                    # A renewal keeps when it was first taken; a takeover starts anew.
                    acquired_at=sa.case((t.holder == holder, t.acquired_at), else_=now),
                    holder=holder,
                    renewed_at=now,
                    expires_at=expires_at,
                )
            )
            if not taken.rowcount:
                insert = postgresql.insert if self.db.is_postgres else sqlite.insert
                created = conn.execute(
                    insert(leases)
                    .values(
                        name=name,
                        holder=holder,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=expires_at,
                    )
                    .on_conflict_do_nothing(index_elements=["name"])
                    # RETURNING, not rowcount: psycopg2 reports -1 for this INSERT.
                    .returning(leases.c.name)
                )
                if created.first() is None:
                    return None  # held by someone else (maybe inserted just now)
            row = conn.execute(sa.select(leases).where(t.name == name)).one()
        return Lease.from_row(row)

    def renew(
        self, name: str, holder: str, ttl_s: float, *, now: dt.datetime | None = None
    ) -> Lease | None:
        """Extend ``holder``'s lease; None when the row names someone else or no one (never
        takes a lease it does not hold)."""
        now = now or utcnow()
        t = leases.c
        with self.db.tx() as conn:
            renewed = conn.execute(
                leases.update()
                .where(t.name == name, t.holder == holder)
                .values(renewed_at=now, expires_at=now + dt.timedelta(seconds=ttl_s))
            )
            if not renewed.rowcount:
                return None
            row = conn.execute(sa.select(leases).where(t.name == name)).one()
        return Lease.from_row(row)

    def release(self, name: str, holder: str) -> bool:
        """Give ``name`` up if ``holder`` has it: free for the next taker at once."""
        with self.db.tx() as conn:
            result = conn.execute(
                leases.delete().where(leases.c.name == name, leases.c.holder == holder)
            )
        return bool(result.rowcount)

    def get(self, name: str) -> Lease | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
        return Lease.from_row(row) if row is not None else None

    def held_by(self, holder: str) -> list[Lease]:
        """``holder``'s rows, expired ones included (the caller compares with its clock)."""
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(leases).where(leases.c.holder == holder).order_by(leases.c.name)
            ).all()
        return [Lease.from_row(r) for r in rows]

    def all(self) -> list[Lease]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(leases).order_by(leases.c.name)).all()
        return [Lease.from_row(r) for r in rows]
