"""KnowledgeBase: the vetted advice every session reads, cached and shared (read-mostly)."""

from __future__ import annotations

import threading
import time

from agrochat.persistence import KnowledgeEntry, KnowledgeStore


class KnowledgeBase:
    """The knowledge table, cached for ``ttl_s`` and shared by every session (read-mostly)."""

    def __init__(self, store: KnowledgeStore, *, ttl_s: float = 60.0) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: tuple[KnowledgeEntry, ...] = ()
        self._loaded_at: float | None = None

    def entries(self) -> tuple[KnowledgeEntry, ...]:
        with self._lock:
            now = time.monotonic()
            if self._loaded_at is None or now - self._loaded_at > self.ttl_s:
                self._entries = tuple(self.store.all())
                self._loaded_at = now
            return self._entries
