"""ProducerStore's queries about many producers (segments, the panel's list), on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from agrochat.persistence import Database, ProducerStore

NOW = dt.datetime(2026, 9, 15, 12, 0)


def _producer(
    store: ProducerStore, phone: str, fields: dict[str, str], *, status: str = "activo"
) -> int:
    producer, _ = store.get_or_create(phone, now=NOW)
    store.set_fields(producer.id, fields, source="api", now=NOW)
    store.update(producer.id, status=status, now=NOW)
    return producer.id


def test_segment_selects_active_producers_by_profile(database: Database) -> None:
    store = ProducerStore(database)
    papa = _producer(store, "51900000001", {"cultivo": "Papa ", "distrito": "Huanta"})
    _producer(store, "51900000002", {"cultivo": "maíz", "distrito": "Huanta"})
    _producer(store, "51900000003", {"cultivo": "papa"}, status="inactivo")
    papa2 = _producer(store, "51900000004", {"cultivo": "papa", "distrito": "Tambo"})
    assert [p for p, _ in store.in_segment({"cultivo": "papa"})] == [papa, papa2]
    assert store.in_segment({"cultivo": "papa", "distrito": "huanta"}) == [(papa, "51900000001")]
    assert len(store.in_segment(None)) == 3
    with pytest.raises(ValueError):
        store.in_segment({"telefono": "519"})
