"""The vetted advice agrochat ships, and how a seed meets a database that admins have edited.

Seeds are JSON files next to this module (``seeds/knowledge-*.json``), applied by a migration.
A later seed adds the entries it brings and updates the entries of its own that nobody touched;
an entry an admin created, edited or retired is theirs, and no seed overwrites or revives it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SEEDS = "agrochat.persistence"


def load_seed(prefix: str) -> list[dict[str, Any]]:
    """Every entry of the packaged seed files whose names start with ``prefix``, in file order."""
    entries: list[dict[str, Any]] = []
    folder = resources.files(SEEDS).joinpath("seeds")
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith(prefix) and path.name.endswith(".json"):
            entries.extend(json.loads(path.read_text(encoding="utf-8"))["entries"])
    return entries


def _values(entry: Mapping[str, Any]) -> dict[str, Any]:
    source = entry["source"]
    return {
        "key": entry["key"],
        "title": entry["title"],
        "answer": entry["answer"],
        "body": entry["body"],
        "crop": entry.get("crop"),
        "topic": entry.get("topic"),
        "keywords": entry.get("keywords", ""),
        "source": source["publisher"],
        "source_title": source.get("title"),
        "source_year": source.get("year"),
        "source_url": source.get("url"),
        "origin": "seed",
        # The stems are made by agrochat.knowledge at its next refresh.
        "title_terms": None,
        "text_terms": None,
        "terms_version": None,
    }


def apply_knowledge_seed(
    conn: Connection,
    table: sa.Table,
    entries: Iterable[Mapping[str, Any]],
    *,
    now: dt.datetime | None = None,
) -> tuple[int, int]:
    """Add the seed's new entries and update its untouched ones; (added, updated)."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    entries = list(entries)
    keys = [e["key"] for e in entries]
    rows = conn.execute(
        sa.select(
            table.c.id, table.c.key, table.c.origin, table.c.edited_at, table.c.retired_at
        ).where(table.c.key.in_(keys))
    ).all()
    existing = {r.key: r for r in rows}
    added = updated = 0
    for entry in entries:
        values = _values(entry)
        row = existing.get(entry["key"])
        if row is None:
            conn.execute(
                table.insert().values(
                    **values, review_status="pending", created_at=now, updated_at=now
                )
            )
            added += 1
        elif row.origin == "seed" and row.edited_at is None and row.retired_at is None:
            conn.execute(
                table.update()
                .where(table.c.id == row.id)
                .values(**values, review_status="pending", updated_at=now)
            )
            updated += 1
    return added, updated
