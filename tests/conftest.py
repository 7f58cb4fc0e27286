"""Fixtures every test area shares: databases (SQLite and a real PostgreSQL) and actor cleanup.

PostgreSQL comes from AGROCHAT_TEST_DATABASE_URL (default: the server on this machine). Each test
gets a schema of its own on it, so runs in parallel never see each other's rows. Where no server
answers, those tests are skipped, except in CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from agrochat import wiring
from agrochat.actors.session import load_form
from agrochat.errors import NotFound, NotReady
from agrochat.knowledge import KnowledgeBase
from agrochat.persistence import AdminStore, Database, open_database
from tests._postgres import fresh_schema

PG_URL = os.environ.get("AGROCHAT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_pg_reachable: bool | None = None


class FakePeers:
    """What the supervisor offers actors: the current ref for an id, nothing more."""

    def __init__(self, **refs: pykka.ActorRef[Any]) -> None:
        self.refs: dict[str, pykka.ActorRef[Any]] = dict(refs)

    def ref(self, id: str) -> pykka.ActorRef[Any]:
        ref = self.refs.get(id)
        if ref is None:
            raise NotFound(f"no actor named {id!r}")
        if not ref.is_alive():
            raise NotReady(f"actor {id!r} is not running")
        return ref


def _postgres_reachable() -> bool:
    global _pg_reachable
    if _pg_reachable is None:
        try:
            engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
            _pg_reachable = True
        except Exception:
            _pg_reachable = False
    return _pg_reachable


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    if not _postgres_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI and is not reachable")
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable")
    with fresh_schema(PG_URL) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'agrochat.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """Runs the test once against SQLite and once against PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def database(database_url) -> Iterator[Database]:
    db = open_database(database_url)
    try:
        yield db
    finally:
        db.close()
        db.engine.dispose()


@pytest.fixture
def sqlite_database(sqlite_url) -> Iterator[Database]:
    db = open_database(sqlite_url)
    try:
        yield db
    finally:
        db.close()
        db.engine.dispose()


@pytest.fixture(scope="module")
def base() -> Iterator[KnowledgeBase]:
    """The knowledge base production builds, seeded, in memory: for tests of retrieval and of
    how messages read, which only read it."""
    db = open_database("sqlite://")
    try:
        yield wiring.knowledge_base(db, load_form("perfil"))
    finally:
        db.close()
        db.engine.dispose()


@pytest.fixture
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2's production cost (about half a second a hash on these shared cores) would be most
    of a test's time where the behaviour does not depend on it. A hash carries its own
    parameters, so verifying takes the cheap path too."""
    monkeypatch.setattr(
        AdminStore, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


class Borrowed:
    """The real model, lent to one test's inference actor: stopping the actor must not close it
    (loading it again would cost every test that uses it seconds)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.kind = backend.kind

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        return self.backend.complete(*args, **kwargs)

    def prefill(self, *args: Any, **kwargs: Any) -> Any:
        return self.backend.prefill(*args, **kwargs)

    def describe(self) -> dict[str, Any]:
        return self.backend.describe()

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def real_backend() -> Iterator[Any]:
    """The packaged model, loaded once per test run (assembled into var/test-model first)."""
    from agrochat.actors.inference import make_backend
    from agrochat.config import Config

    repo = Path(__file__).resolve().parent.parent
    config = Config(data_dir=str(repo / "var" / "test-model"), model_ctx=2048, model_threads=2)
    backend = make_backend(config)
    yield backend
    backend.close()


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()
