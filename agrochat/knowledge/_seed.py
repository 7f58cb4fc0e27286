"""The packaged starter advice, loaded into the knowledge table on first start."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from agrochat.logs import get_logger
from agrochat.persistence import Database, KnowledgeStore

log = get_logger(__name__)
KNOWLEDGE_SOURCE = "agrochat: base inicial (revisar con un agrónomo local)"


def load_knowledge_seed() -> list[dict[str, Any]]:
    """The packaged starter advice (``data/conocimiento.json``)."""
    text = (
        resources.files("agrochat.actors.session")
        .joinpath("data/conocimiento.json")
        .read_text(encoding="utf-8")
    )
    entries = json.loads(text)["entries"]
    return [{**e, "source": e.get("source", KNOWLEDGE_SOURCE)} for e in entries]


def seed_knowledge(database: Database) -> None:
    """Fill an empty knowledge table; a failure is logged, not fatal (the next start seeds)."""
    try:
        added = KnowledgeStore(database).seed_if_empty(load_knowledge_seed())
    except Exception:
        log.exception("could not seed the knowledge table")
        return
    if added:
        log.info("knowledge table seeded", entries=added)
