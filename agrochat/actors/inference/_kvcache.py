"""Producers' saved KV state, bounded in bytes, least recently used evicted first.

One llama.cpp context holds one token sequence at a time. When producer A's turn comes after
B's, the live context holds B's tokens; only the shared system prompt is reused from it. So
after each generation the backend saves the context's KV cells for the sequence (llama.cpp's
``llama_state_seq_get_data``: the cells, not the 300 MB logits buffer that ``Llama.save_state``
copies) under the producer's key, and restores them when the producer comes back, if that
reuses more tokens than the live context does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SavedState:
    tokens: tuple[int, ...]
    data: bytes | bytearray

    @property
    def nbytes(self) -> int:
        return len(self.data) + 4 * len(self.tokens)


class KVStateCache:
    def __init__(self, *, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._states: OrderedDict[str, SavedState] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._states)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> SavedState | None:
        state = self._states.get(key)
        if state is None:
            self.misses += 1
            return None
        self.hits += 1
        self._states.move_to_end(key)
        return state

    def put(self, key: str, state: SavedState) -> None:
        self.discard(key)
        if state.nbytes > self.capacity_bytes:
            return  # larger than the whole budget: keeping it would evict everyone else
        self._states[key] = state
        self._bytes += state.nbytes
        while self._bytes > self.capacity_bytes:
            _, oldest = self._states.popitem(last=False)
            self._bytes -= oldest.nbytes
            self.evictions += 1

    def discard(self, key: str) -> None:
        old = self._states.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes

    def clear(self) -> None:
        self._states.clear()
        self._bytes = 0


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
