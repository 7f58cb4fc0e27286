"""ServerPool's routing, driven directly with a fake clock: no threads, no HTTP."""

from __future__ import annotations

import pytest

from agrochat.actors.inference import ServerAddress, ServerMetrics, ServerPool
from agrochat.errors import ModelUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pool_of(n: int, clock: Clock, **kw) -> ServerPool:
    servers = [ServerAddress(f"s{i}", f"http://m{i}:8000") for i in range(1, n + 1)]
    return ServerPool(servers, clock=clock, wall=lambda: 1_700_000_000.0, **kw)


def test_requests_without_a_producer_go_to_the_least_busy_server(clock):
    pool = pool_of(3, clock)
    first = pool.acquire(None)
    second = pool.acquire(None)
    third = pool.acquire(None)
    assert {first, second, third} == {"s1", "s2", "s3"}
    pool.succeeded(second)
    assert pool.acquire(None) == second


def test_ties_are_taken_in_turn(clock):
    pool = pool_of(2, clock)
    chosen = []
    for _ in range(4):
        server = pool.acquire(None)
        pool.succeeded(server)
        chosen.append(server)
    assert chosen == ["s1", "s2", "s1", "s2"]


def test_a_producer_sticks_to_its_server_even_when_another_is_idle(clock):
    pool = pool_of(2, clock)
    home = pool.acquire("51911111111@c.us")
    pool.succeeded(home)
    busy = pool.acquire("51911111111@c.us")
    assert busy == home
    # Its server is now the busier one; the producer still goes there (its KV prefix lives there).
    assert pool.acquire("51911111111@c.us") == home
    other = pool.acquire("51922222222@c.us")
    assert other != home


def test_a_failed_server_is_skipped_and_its_producers_move_for_good(clock):
    pool = pool_of(2, clock)
    home = pool.acquire("51911111111@c.us")
    pool.failed(home, "ConnectError")
    moved = pool.acquire("51911111111@c.us")
    assert moved != home
    pool.succeeded(moved)
    clock.now += 60  # long past the backoff: the old server is back
    trial = pool.acquire(None)
    assert trial == home
    pool.succeeded(trial)
    assert pool.acquire("51911111111@c.us") == moved


def test_a_retry_excludes_the_servers_that_failed_this_request(clock):
    pool = pool_of(3, clock)
    first = pool.acquire("p", exclude=())
    pool.failed(first, "HTTP 500")
    second = pool.acquire("p", exclude=[first])
    assert second != first
    pool.failed(second, "HTTP 500")
    third = pool.acquire("p", exclude=[first, second])
    assert third not in (first, second)


def test_a_request_every_live_server_failed_is_unavailable(clock):
    pool = pool_of(2, clock)
    first = pool.acquire(None)
    pool.abandoned(first)  # refused (4xx): not the server's fault
    with pytest.raises(ModelUnavailable, match="failed on it"):
        pool.acquire(None, exclude=[first, "s2"])


def test_a_down_server_gets_one_trial_request_after_its_backoff(clock):
    pool = pool_of(2, clock)
    pool.failed(pool.acquire(None), "ConnectError")  # s1 down for 2 s
    assert pool.snapshot()[0]["state"] == "down"
    assert pool.acquire(None) == "s2"
    assert pool.acquire(None) == "s2"  # still down: the busy server takes it
    clock.now += 2.0
    assert pool.acquire(None) == "s1"  # the trial
    assert pool.snapshot()[0]["state"] == "trial"
    # One trial at a time: the next goes elsewhere while it runs.
    assert pool.acquire(None) == "s2"
    pool.succeeded("s1")
    row = pool.snapshot()[0]
    assert (row["state"], row["healthy"], row["down_until"]) == ("up", True, None)


def test_a_failed_trial_doubles_the_backoff_up_to_the_cap(clock):
    pool = pool_of(2, clock, backoff_s=2.0, max_backoff_s=5.0)
    pool.failed(pool.acquire(None), "ConnectError")  # s1
    for backoff in (2.0, 4.0, 5.0, 5.0):
        clock.now += backoff - 0.5
        with pytest.raises(ModelUnavailable):
            pool.acquire(None, exclude=["s2"])
        clock.now += 0.5
        assert pool.acquire(None, exclude=["s2"]) == "s1"
        pool.failed("s1", "ConnectError")


def test_failures_of_requests_sent_before_the_server_went_down_do_not_extend_it(clock):
    pool = pool_of(2, clock)
    a = pool.acquire(None)
    b = pool.acquire(None)
    c = pool.acquire(None)
    assert a == c == "s1" and b == "s2"
    pool.failed(a, "ConnectError")
    clock.now += 1.0
    pool.failed(c, "ConnectError")
    row = pool.server("s1")
    assert row["failures"] == 2
    clock.now += 1.0  # 2 s after the first failure
    assert pool.acquire(None, exclude=["s2"]) == "s1"


def test_every_server_down_is_unavailable_until_a_backoff_ends(clock):
    pool = pool_of(2, clock)
    for server in (pool.acquire(None), pool.acquire(None)):
        pool.failed(server, "ConnectError")
    with pytest.raises(ModelUnavailable, match="every model server is down"):
        pool.acquire("p")
    assert pool.health() == (False, "0 of 2 up")
    clock.now += 2.0
    assert pool.acquire("p") in ("s1", "s2")


def test_a_lone_server_is_never_taken_down(clock):
    pool = pool_of(1, clock)
    pool.failed(pool.acquire(None), "ConnectError")
    assert pool.acquire(None) == "s1"
    assert pool.server("s1")["failures"] == 1
    assert pool.health() == (True, "1 of 1 up")


def test_sticky_producers_are_forgotten_oldest_first(clock):
    pool = pool_of(2, clock, sticky_limit=2)
    homes = {}
    for producer in ("a", "b", "c"):
        homes[producer] = pool.acquire(producer)
        pool.succeeded(homes[producer])
    assert homes == {"a": "s1", "b": "s2", "c": "s1"}
    # "a" was forgotten: it goes where the turn is (s2), not back to s1; "c" is remembered.
    assert pool.acquire("a") == "s2"
    assert pool.acquire("c") == "s1"


def test_snapshot_shows_each_server_for_operators(clock):
    pool = pool_of(2, clock)
    pool.succeeded(pool.acquire(None))
    pool.failed(pool.acquire(None), "ConnectError: refused")
    pool.acquire(None)
    s1, s2 = pool.snapshot()
    assert s1 == {
        "actor": "s1",
        "url": "http://m1:8000",
        "state": "up",
        "healthy": True,
        "in_flight": 1,
        "served": 1,
        "failures": 0,
        "other": 0,
        "down_until": None,
        "last_error": None,
    }
    assert s2["state"] == "down" and s2["failures"] == 1
    assert s2["down_until"] == "2023-11-14T22:13:22+00:00"  # wall clock + 2 s
    assert s2["last_error"] == "ConnectError: refused"
    assert pool.health() == (True, "1 of 2 up")


def test_metrics_have_a_series_per_server(clock):
    pool = pool_of(2, clock)
    pool.succeeded(pool.acquire(None))
    pool.failed(pool.acquire(None), "ConnectError")
    text = ServerMetrics(pool.snapshot).render()
    assert (
        'agrochat_inference_server_requests_total{outcome="ok",server="http://m1:8000"} 1.0' in text
    )
    assert (
        'agrochat_inference_server_requests_total{outcome="failed",server="http://m2:8000"} 1.0'
        in text
    )
    assert 'agrochat_inference_server_up{server="http://m2:8000"} 0.0' in text
    assert 'agrochat_inference_server_in_flight{server="http://m1:8000"} 0.0' in text
