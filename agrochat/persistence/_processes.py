"""Processes: every running agrochat writes a heartbeat row, so each can tell who is alive.

The row is written at start and then every ``AGROCHAT_HEARTBEAT_S`` with what the process holds
(its gateway channels, how many producers' sessions); a clean stop marks it ``stopped_at``. A
process killed outright stops beating: it counts as alive no longer after a few intervals, and
its row is pruned a while later. Times are compared with the writer's ``utcnow()`` (see
``_leases`` on clocks).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import processes


@dataclass(frozen=True)
class ProcessInfo:
    """Who a process is: fixed for its life."""

    id: str
    host: str
    pid: int
    bind: str
    version: str
    started_at: dt.datetime


@dataclass(frozen=True)
class ProcessRow(ProcessInfo):
    """A process as its heartbeat row last said."""

    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None
    owns: dict[str, Any]

    @classmethod
    def from_row(cls, row: Any) -> ProcessRow:
        m = dict(row._mapping)
        try:
            owns = json.loads(m["owns"] or "{}")
        except ValueError:
            owns = {}
        m["owns"] = owns if isinstance(owns, dict) else {}
        return cls(**{f: m[f] for f in cls.__dataclass_fields__})


class ProcessStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def heartbeat(
        self, process: ProcessInfo, owns: dict[str, Any], *, now: dt.datetime | None = None
    ) -> None:
        """Write ``process``'s row: created on the first beat, refreshed on the next ones."""
        now = now or utcnow()
        text = json.dumps(owns, sort_keys=True, default=str)
        with self.db.tx() as conn:
            updated = conn.execute(
                processes.update()
                .where(processes.c.id == process.id)
                .values(heartbeat_at=now, owns=text, stopped_at=None)
            )
            if not updated.rowcount:
                # Only this process writes its row: no one else can insert it meanwhile.
                conn.execute(
                    processes.insert().values(
                        id=process.id,
                        host=process.host,
                        pid=process.pid,
                        bind=process.bind,
                        version=process.version,
                        started_at=process.started_at,
                        heartbeat_at=now,
                        owns=text,
                    )
                )

    def mark_stopped(self, process_id: str, *, now: dt.datetime | None = None) -> None:
        now = now or utcnow()
        with self.db.tx() as conn:
            conn.execute(
                processes.update()
                .where(processes.c.id == process_id)
                .values(stopped_at=now, owns="{}")
            )

    def alive(self, within_s: float, *, now: dt.datetime | None = None) -> list[ProcessRow]:
        """Processes not stopped whose last heartbeat is at most ``within_s`` old, oldest
        started first."""
        now = now or utcnow()
        since = now - dt.timedelta(seconds=within_s)
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(processes)
                .where(processes.c.stopped_at.is_(None), processes.c.heartbeat_at >= since)
                .order_by(processes.c.started_at, processes.c.id)
            ).all()
        return [ProcessRow.from_row(r) for r in rows]

    def get(self, process_id: str) -> ProcessRow | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(processes).where(processes.c.id == process_id)).first()
        return ProcessRow.from_row(row) if row is not None else None

    def prune(self, older_than_s: float, *, now: dt.datetime | None = None) -> int:
        """Delete rows whose last heartbeat is older than ``older_than_s``: processes long gone
        (stopped or killed). Returns how many."""
        now = now or utcnow()
        before = now - dt.timedelta(seconds=older_than_s)
        with self.db.tx() as conn:
            result = conn.execute(processes.delete().where(processes.c.heartbeat_at < before))
        return int(result.rowcount or 0)
