from __future__ import annotations

import threading

import sqlalchemy as sa

from agrochat.persistence import Database, open_database
from tests.schema import LATEST_VERSION, MIGRATIONS, metadata


def test_fresh_database_is_migrated_to_latest_version(database: Database) -> None:
    assert database.current_version() == LATEST_VERSION
    tables = set(sa.inspect(database.engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    first = open_database(database_url)
    first.close()
    second = open_database(database_url)
    try:
        with second.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT version FROM schema_version")).all()
        assert sorted(r[0] for r in rows) == [version for version, _ in MIGRATIONS]
    finally:
        second.close()


def test_indexes_are_created(database: Database) -> None:
    indexes = {i["name"] for i in sa.inspect(database.engine).get_indexes("alerts")}
    assert "ix_alerts_status_scheduled" in indexes


def test_more_threads_than_pooled_connections_do_not_deadlock(database: Database) -> None:
    # dataset holds a global lock while waiting for the pool; 60 threads on a 30-connection pool
    # stalled for the pool timeout before Database.tx() bounded them.
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                with database.tx() as conn:
                    conn.execute(sa.text("SELECT 1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "threads stuck waiting for connections"
    assert errors == []
