"""ProducerLocks: a producer's turn across processes on PostgreSQL (two ProducerLocks objects
stand for two agrochat processes: each has its own connections), counted only on SQLite."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from agrochat.persistence import ProducerBusy, ProducerLocks, producer_lock_key

ROSA = "51987654321"
JUAN = "51911222333"


def _waiting_for_an_advisory_lock(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            return int(conn.execute(sa.text(query)).scalar() or 0)
    finally:
        engine.dispose()


def _until(condition, timeout_s: float = 10.0) -> None:
    """Polls a condition another process (PostgreSQL) makes true; fails after the timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def two_processes(postgres_url: str) -> Iterator[tuple[ProducerLocks, ProducerLocks]]:
    first, second = ProducerLocks(postgres_url), ProducerLocks(postgres_url)
    yield first, second
    first.close()
    second.close()


@pytest.mark.postgres
def test_a_producer_answered_on_one_process_waits_on_the_other(
    two_processes: tuple[ProducerLocks, ProducerLocks], postgres_url: str
) -> None:
    first, second = two_processes
    entered = threading.Event()
    order: list[str] = []

    def other_process() -> None:
        with second.hold(ROSA, timeout_s=10):
            order.append("second")
            entered.set()

    with first.hold(ROSA, timeout_s=10):
        assert first.held() == [ROSA]
        thread = threading.Thread(target=other_process)
        thread.start()
        # PostgreSQL shows the second process queued behind the first.
        _until(lambda: _waiting_for_an_advisory_lock(postgres_url) == 1)
        assert not entered.is_set()
        order.append("first")
    assert entered.wait(10)
    thread.join()
    assert order == ["first", "second"]
    assert first.held() == [] and second.held() == []


@pytest.mark.postgres
def test_different_producers_are_answered_at_once(
    two_processes: tuple[ProducerLocks, ProducerLocks],
) -> None:
    first, second = two_processes
    with first.hold(ROSA, timeout_s=5), second.hold(JUAN, timeout_s=0.1):
        assert first.held() == [ROSA] and second.held() == [JUAN]


@pytest.mark.postgres
def test_a_turn_not_free_within_the_wait_is_refused_as_busy(
    two_processes: tuple[ProducerLocks, ProducerLocks],
) -> None:
    first, second = two_processes
    with (
        first.hold(ROSA, timeout_s=5),
        pytest.raises(ProducerBusy),
        second.hold(ROSA, timeout_s=0.2),
    ):
        pytest.fail("entered a turn another process holds")
    assert second.timeouts == 1 and second.held() == []
    # The refused wait left nothing behind: the turn is free once the holder is done.
    with second.hold(ROSA, timeout_s=1):
        assert second.held() == [ROSA]


@pytest.mark.postgres
def test_an_error_inside_the_turn_releases_it(
    two_processes: tuple[ProducerLocks, ProducerLocks],
) -> None:
    first, second = two_processes
    with pytest.raises(RuntimeError), first.hold(ROSA, timeout_s=5):
        raise RuntimeError("the conversation failed")
    with second.hold(ROSA, timeout_s=0.5):
        assert second.held() == [ROSA]


@pytest.mark.postgres
def test_a_process_killed_while_answering_frees_its_producer_at_once(
    postgres_url: str,
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, threading
                from agrochat.persistence import ProducerLocks
                locks = ProducerLocks({postgres_url!r})
                with locks.hold({ROSA!r}, timeout_s=5):
                    print("held", flush=True)
                    threading.Event().wait()
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        locks = ProducerLocks(postgres_url)
        with pytest.raises(ProducerBusy), locks.hold(ROSA, timeout_s=0.2):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        # No lease to run out: PostgreSQL ended the dead process's backend and its lock.
        with locks.hold(ROSA, timeout_s=5):
            assert locks.held() == [ROSA]
        locks.close()
    finally:
        holder.kill()
        holder.wait(10)


def test_on_sqlite_a_turn_is_only_counted() -> None:
    locks = ProducerLocks(None)
    assert not locks.shared
    with locks.hold(ROSA, timeout_s=0), locks.hold(ROSA, timeout_s=0):
        assert locks.held() == [ROSA]
        assert locks.snapshot()["held"] == 1
    assert locks.held() == [] and locks.acquired == 2
    assert "agrochat_producers_held 0" in locks.render_metrics()


def test_the_lock_key_is_the_same_in_every_process_and_fits_postgresql() -> None:
    keys = {producer_lock_key(ROSA), producer_lock_key(JUAN)}
    assert len(keys) == 2
    assert all(-(2**31) <= k < 2**31 for k in keys)
    # A separate interpreter (another process) computes the same key.
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from agrochat.persistence import producer_lock_key as key; print(key({ROSA!r}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(other.stdout) == producer_lock_key(ROSA)
