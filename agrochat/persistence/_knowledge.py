"""Vetted advice: the entries a reply may quote, and the full-text search that finds them.

The store keeps each entry with its source and review status, and searches the stems that
``agrochat.knowledge`` computes for it (``title_terms``, ``text_terms``): SQLite ranks with
FTS5's bm25, PostgreSQL with ``ts_rank_cd`` over a generated ``tsvector`` (migration 2), both
on the same stems, so both databases find the same candidates. Entries are retired, never
deleted, so a later seed cannot bring back what an admin removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import knowledge

REVIEW_STATUSES = ("pending", "reviewed")


@dataclass(frozen=True)
class KnowledgeEntry:
    id: int
    key: str | None
    title: str
    answer: str  # what a producer reads: at most three sentences
    body: str  # the longer text, for the panel
    crop: str | None  # None: applies to every crop
    topic: str | None
    keywords: str  # space- or comma-separated words
    source: str | None  # the publisher, short ("INIA")
    source_title: str | None
    source_year: int | None
    source_url: str | None
    review_status: str
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    origin: str  # seed | admin
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> KnowledgeEntry:
        m = row._mapping
        return cls(
            id=int(m["id"]),
            key=m["key"],
            title=m["title"],
            answer=m["answer"] or m["body"],
            body=m["body"],
            crop=m["crop"],
            topic=m["topic"],
            keywords=m["keywords"] or "",
            source=m["source"],
            source_title=m["source_title"],
            source_year=m["source_year"],
            source_url=m["source_url"],
            review_status=m["review_status"],
            reviewed_by=m["reviewed_by"],
            reviewed_at=m["reviewed_at"],
            origin=m["origin"],
            updated_at=m["updated_at"],
        )


_LIVE = knowledge.c.retired_at.is_(None)


class KnowledgeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[KnowledgeEntry]:
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(knowledge).where(_LIVE).order_by(knowledge.c.id)).all()
            return [KnowledgeEntry.from_row(r) for r in rows]

    def count(self) -> int:
        with self.db.tx() as conn:
            query = sa.select(sa.func.count()).select_from(knowledge).where(_LIVE)
            return int(conn.execute(query).scalar() or 0)

    def get(self, entry_id: int) -> KnowledgeEntry | None:
        with self.db.tx() as conn:
            row = conn.execute(
                sa.select(knowledge).where(knowledge.c.id == entry_id, _LIVE)
            ).first()
            return KnowledgeEntry.from_row(row) if row is not None else None

    def by_key(self, key: str) -> KnowledgeEntry | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(knowledge).where(knowledge.c.key == key, _LIVE)).first()
            return KnowledgeEntry.from_row(row) if row is not None else None

    def add(
        self,
        *,
        title: str,
        answer: str,
        body: str,
        crop: str | None = None,
        topic: str | None = None,
        keywords: str = "",
        source: str | None = None,
        source_title: str | None = None,
        source_year: int | None = None,
        source_url: str | None = None,
        now: dt.datetime | None = None,
    ) -> int:
        """A new entry written by an admin: pending review until an agronomist signs it off."""
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                knowledge.insert().values(
                    title=title,
                    answer=answer,
                    body=body,
                    crop=crop,
                    topic=topic,
                    keywords=keywords,
                    source=source,
                    source_title=source_title,
                    source_year=source_year,
                    source_url=source_url,
                    origin="admin",
                    review_status="pending",
                    created_at=now,
                    updated_at=now,
                )
            )
            return int(result.inserted_primary_key[0])

    def update(
        self,
        entry_id: int,
        *,
        title: str,
        answer: str,
        body: str,
        crop: str | None,
        topic: str | None,
        keywords: str,
        source: str | None,
        source_title: str | None = None,
        source_year: int | None = None,
        source_url: str | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """An admin's edit: it is theirs from now on (no seed overwrites it), its stems are
        made again, and it waits for review again. False if there is no such entry."""
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                knowledge.update()
                .where(knowledge.c.id == entry_id, _LIVE)
                .values(
                    title=title,
                    answer=answer,
                    body=body,
                    crop=crop,
                    topic=topic,
                    keywords=keywords,
                    source=source,
                    source_title=source_title,
                    source_year=source_year,
                    source_url=source_url,
                    review_status="pending",
                    reviewed_by=None,
                    reviewed_at=None,
                    edited_at=now,
                    updated_at=now,
                    terms_version=None,
                )
            )
            return result.rowcount > 0

    def review(self, entry_id: int, *, reviewer: str, now: dt.datetime | None = None) -> bool:
        """An agronomist signs the entry off as it stands now."""
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                knowledge.update()
                .where(knowledge.c.id == entry_id, _LIVE)
                .values(review_status="reviewed", reviewed_by=reviewer, reviewed_at=now)
            )
            return result.rowcount > 0

    def retire(self, entry_id: int, *, now: dt.datetime | None = None) -> bool:
        """Take an entry out of every answer and list; it stays in the table so no later seed
        brings it back."""
        now = now or utcnow()
        with self.db.tx() as conn:
            result = conn.execute(
                knowledge.update()
                .where(knowledge.c.id == entry_id, _LIVE)
                .values(retired_at=now, edited_at=now, updated_at=now)
            )
            return result.rowcount > 0

    # -- search --------------------------------------------------------------------------------

    def needing_terms(self, version: int) -> list[KnowledgeEntry]:
        """Entries whose stems are missing or were made by another version of the rules."""
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(knowledge).where(
                    _LIVE,
                    sa.or_(
                        knowledge.c.terms_version.is_(None),
                        knowledge.c.terms_version != version,
                    ),
                )
            ).all()
            return [KnowledgeEntry.from_row(r) for r in rows]

    def set_terms(self, entry_id: int, *, title_terms: str, text_terms: str, version: int) -> None:
        with self.db.tx() as conn:
            conn.execute(
                knowledge.update()
                .where(knowledge.c.id == entry_id)
                .values(title_terms=title_terms, text_terms=text_terms, terms_version=version)
            )

    def search(self, stems: Sequence[str], *, crops: Sequence[str], limit: int) -> list[int]:
        """Ids of live entries for these crops (or for every crop) containing any of ``stems``,
        best ranked first: title and keyword stems weigh more than the text's."""
        words = [s for s in dict.fromkeys(stems) if s.isalnum()]
        if not words:
            return []
        crop_filter = sa.or_(knowledge.c.crop.is_(None), knowledge.c.crop.in_(list(crops)))
        with self.db.tx() as conn:
            if self.db.is_postgres:
                query = sa.func.to_tsquery("simple", " | ".join(words))
                search = sa.column("search")
                rows = conn.execute(
                    sa.select(knowledge.c.id)
                    .where(_LIVE, crop_filter, search.op("@@")(query))
                    .order_by(sa.func.ts_rank_cd(search, query).desc(), knowledge.c.id)
                    .limit(limit)
                ).all()
            else:
                fts = sa.table("knowledge_fts", sa.column("rowid"))
                match = " OR ".join(f'"{w}"' for w in words)
                rows = conn.execute(
                    sa.select(knowledge.c.id)
                    .select_from(knowledge.join(fts, fts.c.rowid == knowledge.c.id))
                    .where(_LIVE, crop_filter, sa.text("knowledge_fts MATCH :match"))
                    .order_by(sa.text("bm25(knowledge_fts, 2.0, 1.0)"), knowledge.c.id)
                    .limit(limit),
                    {"match": match},
                ).all()
            return [int(r[0]) for r in rows]
