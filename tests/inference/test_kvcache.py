"""The producers' saved KV states: bounded in bytes, least recently used evicted first."""

from __future__ import annotations

from agrochat.actors.inference._kvcache import KVStateCache, SavedState, common_prefix


def state(n_bytes: int, tokens=(1, 2, 3)) -> SavedState:
    return SavedState(tokens=tuple(tokens), data=bytearray(n_bytes - 4 * len(tokens)))


def test_least_recently_used_state_is_evicted_past_the_budget():
    cache = KVStateCache(capacity_bytes=300)
    cache.put("a", state(100))
    cache.put("b", state(100))
    cache.put("c", state(100))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", state(100))
    assert cache.get("b") is None
    assert [k for k in "acd" if cache.get(k) is not None] == ["a", "c", "d"]
    assert cache.nbytes == 300 and cache.evictions == 1


def test_replacing_a_producers_state_frees_the_old_one():
    cache = KVStateCache(capacity_bytes=1000)
    cache.put("a", state(400))
    cache.put("a", state(200))
    assert cache.nbytes == 200 and len(cache) == 1


def test_a_state_larger_than_the_budget_is_not_kept():
    cache = KVStateCache(capacity_bytes=100)
    cache.put("small", state(50))
    cache.put("huge", state(500))
    assert cache.get("huge") is None
    assert cache.get("small") is not None


def test_common_prefix_counts_equal_leading_tokens():
    assert common_prefix([1, 2, 3, 4], [1, 2, 9]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([5, 6], [5, 6, 7]) == 2
