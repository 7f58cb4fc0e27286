"""Actors stop before the database closes under them (the shared fixture stops them after)."""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from agrochat.persistence import Database


@pytest.fixture
def database(database: Database) -> Iterator[Database]:
    yield database
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def sqlite_database(sqlite_database: Database) -> Iterator[Database]:
    yield sqlite_database
    pykka.ActorRegistry.stop_all()
