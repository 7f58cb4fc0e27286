"""Actors stop before the database closes under them (the shared fixture stops them after);
the fake gateways."""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from agrochat.persistence import Database
from tests.whatsapp.fake_graph import FakeGraph, running_fake_graph
from tests.whatsapp.fake_waha import FakeWaha, running_fake_waha


@pytest.fixture
def database(database: Database) -> Iterator[Database]:
    yield database
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def sqlite_database(sqlite_database: Database) -> Iterator[Database]:
    yield sqlite_database
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def fake_waha() -> Iterator[FakeWaha]:
    """A started fake WAHA on 127.0.0.1 (websocket and HTTP API on one random port)."""
    with running_fake_waha() as fake:
        yield fake


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    """A started fake Graph API (the Cloud API's messages endpoint) on 127.0.0.1."""
    with running_fake_graph() as fake:
        yield fake
