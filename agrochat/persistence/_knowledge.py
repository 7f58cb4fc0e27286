"""Vetted agronomic advice the model may quote: the "conocimiento" of a conversation's context.

The table is small (tens to a few thousand entries); ranking is done in Python by the session's
retrieval (deterministic keyword/crop/topic scoring), so this store only reads and writes rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import knowledge


@dataclass(frozen=True)
class KnowledgeEntry:
    id: int
    title: str
    body: str
    crop: str | None  # None: applies to every crop
    topic: str | None
    keywords: str  # space- or comma-separated words
    source: str | None

    @classmethod
    def from_row(cls, row: Any) -> KnowledgeEntry:
        m = row._mapping
        return cls(
            id=int(m["id"]),
            title=m["title"],
            body=m["body"],
            crop=m["crop"],
            topic=m["topic"],
            keywords=m["keywords"] or "",
            source=m["source"],
        )


class KnowledgeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[KnowledgeEntry]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(knowledge).order_by(knowledge.c.id)).all()
            return [KnowledgeEntry.from_row(r) for r in rows]

    def count(self) -> int:
        with self.db.tx() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(knowledge)).scalar())

    def get(self, entry_id: int) -> KnowledgeEntry | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(knowledge).where(knowledge.c.id == entry_id)).first()
            return KnowledgeEntry.from_row(row) if row is not None else None

    def update(
        self,
        entry_id: int,
        *,
        title: str,
        body: str,
        crop: str | None,
        topic: str | None,
        keywords: str,
        source: str | None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Replace an entry's content (the admin panel's edit); False if there is no such id."""
        with self.db.tx() as conn:
            result = conn.execute(
                knowledge.update()
                .where(knowledge.c.id == entry_id)
                .values(
                    title=title,
                    body=body,
                    crop=crop,
                    topic=topic,
                    keywords=keywords,
                    source=source,
                    updated_at=now or utcnow(),
                )
            )
            return result.rowcount > 0

    def delete(self, entry_id: int) -> bool:
        with self.db.tx() as conn:
            result = conn.execute(knowledge.delete().where(knowledge.c.id == entry_id))
            return result.rowcount > 0

    def add(
        self,
        *,
        title: str,
        body: str,
        crop: str | None = None,
        topic: str | None = None,
        keywords: str = "",
        source: str | None = None,
        now: dt.datetime | None = None,
    ) -> int:
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                knowledge.insert().values(
                    title=title,
                    body=body,
                    crop=crop,
                    topic=topic,
                    keywords=keywords,
                    source=source,
                    created_at=now,
                    updated_at=now,
                )
            )
            return int(result.inserted_primary_key[0])

    def seed_if_empty(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Insert ``entries`` only when the table is empty (first start); returns how many.

        Checked and inserted in one transaction; on PostgreSQL a table lock makes two processes
        starting at once seed it only once.
        """
        now = utcnow()
        with self.db.tx() as conn:
            if self.db.is_postgres:
                # Two processes starting at once must not both seed.
                conn.execute(sa.text("LOCK TABLE knowledge IN SHARE ROW EXCLUSIVE MODE"))
            existing = conn.execute(sa.select(sa.func.count()).select_from(knowledge)).scalar()
            if existing:
                return 0
            rows = [
                {
                    "title": e["title"],
                    "body": e["body"],
                    "crop": e.get("crop"),
                    "topic": e.get("topic"),
                    "keywords": e.get("keywords", ""),
                    "source": e.get("source"),
                    "created_at": now,
                    "updated_at": now,
                }
                for e in entries
            ]
            if rows:
                conn.execute(knowledge.insert(), rows)
            return len(rows)
