"""KnowledgeBase: the vetted advice every session reads, indexed and cached (read-mostly).

The database keeps the entries and runs the full-text search over their stems; this class owns
the stems: it (re)indexes entries whose stems are missing or were made by an older version of
the stemming rules (``TERMS_VERSION``), so an admin's edit or a new release of the rules is
picked up at the next refresh. The in-memory ``Index`` (rarity of each stem, the speller's
vocabulary) is rebuilt at the same time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agrochat.knowledge._search import Hit, Index, index_entry
from agrochat.knowledge._terms import STOPWORDS, TERMS_VERSION, terms
from agrochat.logs import get_logger
from agrochat.persistence import KnowledgeEntry, KnowledgeStore

log = get_logger(__name__)

# How many full-text candidates the database returns for scoring.
CANDIDATES = 30


@dataclass(frozen=True)
class _Snapshot:
    entries: dict[int, KnowledgeEntry]
    index: Index


class KnowledgeBase:
    def __init__(
        self,
        store: KnowledgeStore,
        *,
        extra_words: Iterable[str] = (),
        ttl_s: float = 60.0,
    ) -> None:
        """``extra_words``: words the speller should know besides the base's (the cues'
        lexicons, the form's options)."""
        self.store = store
        self.ttl_s = ttl_s
        self._extra_words = tuple(extra_words)
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._loaded_at: float | None = None

    def refresh(self) -> None:
        """Index what changed and reload the cache now (the panel's edits, a test's seed)."""
        with self._lock:
            self._loaded_at = None
        self._current()

    def _current(self) -> _Snapshot:
        with self._lock:
            now = time.monotonic()
            if (
                self._snapshot is None
                or self._loaded_at is None
                or now - self._loaded_at > self.ttl_s
            ):
                self._reindex()
                entries = {e.id: e for e in self.store.all()}
                self._snapshot = _Snapshot(entries=entries, index=self._build(entries.values()))
                self._loaded_at = now
            return self._snapshot

    def _reindex(self) -> None:
        stale = self.store.needing_terms(TERMS_VERSION)
        for entry in stale:
            self.store.set_terms(
                entry.id,
                title_terms=" ".join(terms(f"{entry.title} {entry.keywords}")),
                text_terms=" ".join(terms(f"{entry.answer} {entry.body}")),
                version=TERMS_VERSION,
            )
        if stale:
            log.info("knowledge indexed", entries=len(stale))

    def _build(self, entries: Iterable[KnowledgeEntry]) -> Index:
        entries = list(entries)
        return Index(
            [
                index_entry(
                    e.id,
                    crop=e.crop,
                    topic=e.topic,
                    title=e.title,
                    keywords=e.keywords,
                    answer=e.answer,
                    body=e.body,
                )
                for e in entries
            ],
            texts=[f"{e.title} {e.keywords} {e.answer} {e.body}" for e in entries],
            extra_words=[*self._extra_words, *STOPWORDS],
        )

    # -- what sessions ask -----------------------------------------------------------------

    def words(self, text: str) -> list[str]:
        """A message's words as the base and the cues spell them (see ``Index.words``)."""
        return self._current().index.words(text)

    def search(
        self,
        words: Sequence[str],
        *,
        crops: Sequence[str],
        earlier: Sequence[str] = (),
    ) -> list[Hit]:
        """Entries for a question, best first: full-text candidates from the database (of the
        given crops, or for every crop), scored by the index. ``earlier``: the previous
        question's words, for a follow-up."""
        snapshot = self._current()
        query = snapshot.index.query(words, crops=crops, earlier=earlier)
        if not query.stems:
            return []
        candidates = self.store.search(query.stems, crops=crops, limit=CANDIDATES)
        return snapshot.index.score(query, candidates)

    def entry(self, entry_id: int) -> KnowledgeEntry | None:
        return self._current().entries.get(entry_id)

    def entries(self) -> tuple[KnowledgeEntry, ...]:
        return tuple(self._current().entries.values())
