"""Two agrochat processes on one PostgreSQL: every alert (and outbox row) is claimed exactly once.

Each "process" is its own Database (its own engine and connection pool) claiming from its own
thread; they start together on a barrier so their claims really overlap.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from agrochat.persistence import AlertStore, NewAlert, OutboxStore, open_database

pytestmark = pytest.mark.postgres

N = 300


def _race(claimers: list[Callable[[], list[int]]]) -> list[list[int]]:
    barrier = threading.Barrier(len(claimers))
    results: list[list[int]] = [[] for _ in claimers]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            while batch := claimers[i]():
                results[i].extend(batch)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(claimers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_two_processes_claim_every_alert_exactly_once(postgres_url: str) -> None:
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        created = AlertStore(first).create_many(
            NewAlert(phone="51987654321", message=f"alerta {i}", level="media", source="api")
            for i in range(N)
        )
        stores = {"p1": AlertStore(first), "p2": AlertStore(second)}

        def claimer(name: str) -> Callable[[], list[int]]:
            return lambda: [
                a.id for a in stores[name].claim_due(limit=7, lease_s=300, claimed_by=name)
            ]

        results = _race([claimer("p1"), claimer("p2")])
        counts = Counter(results[0] + results[1])
        assert sorted(counts) == sorted(created)
        assert set(counts.values()) == {1}
        # Both really took part, or the test proved nothing about concurrency.
        assert results[0] and results[1]
    finally:
        for db in (first, second):
            db.close()
            db.engine.dispose()


def test_two_processes_claim_every_outbox_row_exactly_once(postgres_url: str) -> None:
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        # One producer each: a producer's own rows go one claim after another (their order).
        created = [OutboxStore(first).enqueue(f"519876{i:05d}", f"m{i}") for i in range(N)]
        stores = [OutboxStore(first), OutboxStore(second)]
        results = _race(
            [lambda s=s: [m.id for m in s.claim(7, lease_s=300)] for s in stores]  # type: ignore[misc]
        )
        counts = Counter(results[0] + results[1])
        assert sorted(counts) == created
        assert set(counts.values()) == {1}
        assert results[0] and results[1]
    finally:
        for db in (first, second):
            db.close()
            db.engine.dispose()


def test_two_processes_never_send_one_producers_rows_at_once(postgres_url: str) -> None:
    """Both claim in a race: one of them takes the producer's first rows, in order, and the
    other takes none while those are out (so WhatsApp gets them in the order written)."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        created = [OutboxStore(first).enqueue("51987654321", f"m{i}") for i in range(N)]
        stores = [OutboxStore(first), OutboxStore(second)]
        results = _race(
            [lambda s=s: [m.id for m in s.claim(N, lease_s=300)] for s in stores]  # type: ignore[misc]
        )
        taken, none = sorted([results[0], results[1]], key=len, reverse=True)
        assert none == [] and taken == created[: len(taken)] and taken
    finally:
        for db in (first, second):
            db.close()
            db.engine.dispose()
