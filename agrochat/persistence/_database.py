"""Connecting, migrating and transactions.

``dataset`` keeps one SQLAlchemy connection per thread and, under SQLAlchemy 2's autobegin,
leaves a transaction open after a read. On SQLite that open transaction pins a stale snapshot
for the thread (it would not see other threads' commits), so every store method runs inside
``Database.tx()``, which commits and hands the connection back to the pool.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dataset
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from agrochat.errors import ConfigError
from agrochat.logs import get_logger
from agrochat.persistence import _schema
from agrochat.private_files import DIR_MODE, private_file

log = get_logger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000
POOL_SIZE = 10
POOL_OVERFLOW = 20


def utcnow() -> dt.datetime:
    """Naive UTC now: the convention of every time column (see _schema)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _private_sqlite_file(path: Path) -> None:
    """The database holds farmers' personal data: 0600 from creation. SQLite creates its -wal and
    -shm files with the database file's permissions; ones an older release left are tightened."""
    # A missing parent is created private; an existing one is the operator's to choose (it may
    # be any directory named in the URL), the data dir is tightened where the app starts.
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    private_file(path)
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            private_file(sidecar)


class Database:
    """One database: a ``dataset.Database`` plus the schema, migrations and transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
        in_memory = self.dialect == "sqlite" and parsed.database in (None, "", ":memory:")
        if not in_memory:
            engine_kwargs.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
        statements: list[str] = []
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_sqlite_file(Path(parsed.database))
            engine_kwargs["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            }
            statements = [
                f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
                "PRAGMA foreign_keys=ON",
                "PRAGMA synchronous=NORMAL",
            ]
        self.dataset = dataset.connect(
            url,
            engine_kwargs=engine_kwargs,
            ensure_schema=False,
            sqlite_wal_mode=True,
            on_connect_statements=statements,
        )
        self.engine: sa.Engine = self.dataset.engine  # type: ignore[assignment]
        # dataset checks a connection out of the pool while holding its one global lock, and
        # needs that lock to give one back: with more threads in transactions than the pool has
        # connections, the thread waiting for the pool holds the lock the others need to return
        # theirs, and everything stalls until the pool times out. Never let more threads in.
        self._slots = threading.BoundedSemaphore(POOL_SIZE + POOL_OVERFLOW)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextlib.contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        """A transaction on this thread's connection: committed on success, rolled back on error.

        Nested use joins the outer transaction.
        """
        if self.dataset.in_transaction:
            with self.dataset:
                yield self.dataset.executable
            return
        with self._slots, self.dataset:
            yield self.dataset.executable

    def count_by(self, column: sa.Column[Any], *where: sa.ColumnElement[bool]) -> dict[Any, int]:
        """How many rows (matching ``where``) hold each value of ``column``."""
        query = sa.select(column, sa.func.count()).where(*where).group_by(column)
        with self.tx() as conn:
            return {value: int(n) for value, n in conn.execute(query)}

    def table(self, name: str) -> dataset.Table:
        return self.dataset.load_table(name)

    # -- schema --------------------------------------------------------------------------

    def current_version(self) -> int:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("schema_version"):
                return 0
            version = conn.execute(sa.select(sa.func.max(_schema.schema_version.c.version)))
            return version.scalar() or 0

    def migrate(self) -> int:
        """Apply every migration newer than the database; returns the resulting version."""
        if self.is_postgres:
            with self.engine.begin() as conn:
                # Two processes starting at once must not both migrate.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(74657)"))
                return self._migrate(conn)
        with self.engine.connect() as conn:
            # A table rebuild (migration 4) drops a table others refer to: foreign keys are
            # off while migrating, and checked before the commit (sqlite.org's procedure for
            # schema changes). The pragma is a no-op inside a transaction, so it comes first.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
            try:
                with conn.begin():
                    # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE,
                    # so DDL would commit statement by statement: begin explicitly, and a
                    # migration that fails half-way leaves nothing behind.
                    conn.exec_driver_sql("BEGIN")
                    version = self._migrate(conn)
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            finally:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
        return version

    def _migrate(self, conn: sa.Connection) -> int:
        _schema.schema_version.create(conn, checkfirst=True)
        current = (
            conn.execute(sa.select(sa.func.max(_schema.schema_version.c.version))).scalar() or 0
        )
        for version, migration in _schema.MIGRATIONS:
            if version <= current:
                continue
            log.info("migrating database", to_version=version)
            migration(conn)
            conn.execute(
                _schema.schema_version.insert().values(version=version, applied_at=utcnow())
            )
            current = version
        return current

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.dataset.close()

    def size_bytes(self) -> int | None:
        """How much room the database takes: SQLite's file and its write-ahead log, or
        PostgreSQL's ``pg_database_size``; None for an in-memory SQLite."""
        if self.is_postgres:
            with self.engine.connect() as conn:
                query = sa.text("SELECT pg_database_size(current_database())")
                return int(conn.execute(query).scalar() or 0)
        name = make_url(self.url).database
        if not name or name == ":memory:":
            return None
        files = (Path(name), Path(name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())


class ServingLock:
    """The one agrochat process serving a SQLite file. Sessions, alert leases and the WhatsApp
    socket assume one process per SQLite database (several processes need PostgreSQL), so a
    second ``agrochat serve`` on the same file is refused instead of answering producers twice.
    An flock on ``<database>.lock``: the kernel drops it when the holder dies, even by SIGKILL,
    so a restart after a crash is never refused. Other short-lived users of the file (``agrochat
    admin``, tests reading rows) do not take it."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def claim(cls, url: str) -> ServingLock:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return cls(None)
        path = Path(parsed.database).resolve()
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"another agrochat is already serving {path}: a SQLite database takes one "
                "process (for several, use PostgreSQL in AGROCHAT_DATABASE_URL)"
            ) from None
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def open_database(url: str) -> Database:
    """Connect and bring the schema up to date."""
    db = Database(url)
    db.migrate()
    return db
