"""Leases and process heartbeats, on SQLite and PostgreSQL: one holder at a time, a lease taken
over once it expired, renewed by its holder only, released on a clean stop."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest

from agrochat.persistence import (
    Database,
    LeaseStore,
    ProcessInfo,
    ProcessStore,
    open_database,
)

T0 = dt.datetime(2026, 9, 15, 8, 0, 0)
NAME = "gateway:waha:default"


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_free_lease_is_taken_and_then_refused_to_another_holder(database: Database) -> None:
    store = LeaseStore(database)
    lease = store.acquire(NAME, "a", 10, now=T0)
    assert lease is not None and lease.holder == "a" and lease.expires_at == _at(10)
    assert store.acquire(NAME, "b", 10, now=_at(5)) is None
    assert store.get(NAME).holder == "a"  # type: ignore[union-attr]


def test_the_holder_renews_and_keeps_when_it_first_took_the_lease(database: Database) -> None:
    store = LeaseStore(database)
    store.acquire(NAME, "a", 10, now=T0)
    renewed = store.acquire(NAME, "a", 10, now=_at(4))
    assert renewed is not None
    assert (renewed.acquired_at, renewed.renewed_at, renewed.expires_at) == (T0, _at(4), _at(14))
    # Still before the renewed expiry: b waits.
    assert store.acquire(NAME, "b", 10, now=_at(12)) is None


def test_an_expired_lease_is_taken_over(database: Database) -> None:
    store = LeaseStore(database)
    store.acquire(NAME, "a", 10, now=T0)
    taken = store.acquire(NAME, "b", 10, now=_at(10))
    assert taken is not None and taken.holder == "b" and taken.acquired_at == _at(10)
    # The old holder finds it gone: neither renewing nor taking it back works.
    assert store.renew(NAME, "a", 10, now=_at(11)) is None
    assert store.acquire(NAME, "a", 10, now=_at(11)) is None


def test_only_the_holder_renews(database: Database) -> None:
    store = LeaseStore(database)
    assert store.renew(NAME, "a", 10, now=T0) is None  # never takes a free lease
    store.acquire(NAME, "a", 10, now=T0)
    assert store.renew(NAME, "b", 10, now=_at(1)) is None
    renewed = store.renew(NAME, "a", 10, now=_at(2))
    assert renewed is not None and renewed.expires_at == _at(12)


def test_a_released_lease_is_free_at_once_and_only_its_holder_releases(
    database: Database,
) -> None:
    store = LeaseStore(database)
    store.acquire(NAME, "a", 10, now=T0)
    assert not store.release(NAME, "b")
    assert store.release(NAME, "a")
    assert store.get(NAME) is None
    assert store.acquire(NAME, "b", 10, now=_at(1)) is not None


def test_held_by_and_all_list_the_rows(database: Database) -> None:
    store = LeaseStore(database)
    store.acquire("gateway:waha:ventas", "a", 10, now=T0)
    store.acquire(NAME, "a", 10, now=T0)
    store.acquire("gateway:waha:otra", "b", 10, now=T0)
    assert [lease.name for lease in store.held_by("a")] == [NAME, "gateway:waha:ventas"]
    assert [(lease.name, lease.holder) for lease in store.all()] == [
        (NAME, "a"),
        ("gateway:waha:otra", "b"),
        ("gateway:waha:ventas", "a"),
    ]


@pytest.fixture
def two_connections(database_url: str) -> Iterator[tuple[Database, Database]]:
    """Two engines on one database: what two processes have."""
    first, second = open_database(database_url), open_database(database_url)
    try:
        yield first, second
    finally:
        for db in (first, second):
            db.close()
            db.engine.dispose()


def _race(dbs: tuple[Database, Database], name: str, now: dt.datetime) -> dict[str, bool]:
    """Holders "a" and "b", each on its own engine, ask for ``name`` at the same moment."""
    go = threading.Barrier(2)
    won: dict[str, bool] = {}

    def race(db: Database, holder: str) -> None:
        store = LeaseStore(db)
        go.wait()
        won[holder] = store.acquire(name, holder, 10, now=now) is not None

    threads = [
        threading.Thread(target=race, args=(db, holder))
        for db, holder in zip(dbs, ("a", "b"), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return won


@pytest.mark.parametrize("existing", ["free", "expired"])
def test_of_two_holders_racing_for_one_lease_exactly_one_wins(
    two_connections: tuple[Database, Database], existing: str
) -> None:
    now = _at(5)
    for round_ in range(10):
        name = f"{NAME}-{round_}"
        if existing == "expired":
            LeaseStore(two_connections[0]).acquire(name, "old", 1, now=T0)
        won = _race(two_connections, name, now)
        assert sorted(won.values()) == [False, True], won
        winner = next(h for h, w in won.items() if w)
        assert LeaseStore(two_connections[1]).get(name).holder == winner  # type: ignore[union-attr]


PROCESS = ProcessInfo(
    id="campo-1:4242:ab12cd",
    host="campo-1",
    pid=4242,
    bind="127.0.0.1:5000",
    version="0.1.0",
    started_at=T0,
)


def test_a_heartbeat_creates_the_row_then_refreshes_it(database: Database) -> None:
    store = ProcessStore(database)
    store.heartbeat(PROCESS, {"gateway": ["default"]}, now=T0)
    store.heartbeat(PROCESS, {"gateway": [], "producers": 3}, now=_at(2))
    row = store.get(PROCESS.id)
    assert row is not None
    assert (row.host, row.pid, row.bind, row.started_at) == ("campo-1", 4242, "127.0.0.1:5000", T0)
    assert row.heartbeat_at == _at(2) and row.owns == {"gateway": [], "producers": 3}
    assert row.stopped_at is None


def test_alive_means_a_recent_heartbeat_and_no_clean_stop(database: Database) -> None:
    store = ProcessStore(database)
    other = ProcessInfo(**{**PROCESS.__dict__, "id": "campo-2:7:ffffff", "host": "campo-2"})
    gone = ProcessInfo(**{**PROCESS.__dict__, "id": "campo-3:9:eeeeee", "host": "campo-3"})
    store.heartbeat(PROCESS, {}, now=_at(10))
    store.heartbeat(other, {}, now=_at(3))  # killed: stopped beating
    store.heartbeat(gone, {}, now=_at(10))
    store.mark_stopped(gone.id, now=_at(10))
    assert [p.id for p in store.alive(6, now=_at(11))] == [PROCESS.id]
    assert [p.id for p in store.alive(10, now=_at(11))] == [PROCESS.id, other.id]


def test_prune_deletes_rows_that_stopped_beating_long_ago(database: Database) -> None:
    store = ProcessStore(database)
    old = ProcessInfo(**{**PROCESS.__dict__, "id": "campo-2:7:ffffff"})
    store.heartbeat(old, {}, now=T0)
    store.heartbeat(PROCESS, {}, now=_at(3600))
    assert store.prune(600, now=_at(3601)) == 1
    assert store.get(old.id) is None and store.get(PROCESS.id) is not None
