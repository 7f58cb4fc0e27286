"""What the panel reads, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from agrochat.http._admin_queries import (
    dashboard_counts,
    last_escalation,
    search_producers,
)
from agrochat.persistence import Database, MessageStore, ProducerStore, record_audit

DAY = dt.datetime(2026, 9, 15, 5, 0)  # midnight in Lima, as naive UTC


@pytest.fixture
def producers(database: Database) -> dict[str, int]:
    store = ProducerStore(database)
    ids = {}
    for phone, name, fields in (
        ("51911111111", "Rosa Quispe", {"cultivo": "maíz", "distrito": "Huancayo"}),
        ("51922222222", "Pedro Mamani", {"cultivo": "papa", "distrito": "Jauja"}),
        ("51933333333", None, {"cultivo": "papa"}),
    ):
        producer, _ = store.get_or_create(phone, now=DAY - dt.timedelta(days=3))
        store.set_fields(producer.id, fields, source="model")
        if name:
            store.update(producer.id, name=name, status="activo")
        ids[phone] = producer.id
    store.update(ids["51922222222"], needs_human=True)
    return ids


def test_search_matches_phone_name_crop_and_district(
    database: Database, producers: dict[str, int]
) -> None:
    def phones(**kwargs: object) -> list[str]:
        rows, total = search_producers(database, **kwargs)  # type: ignore[arg-type]
        assert total == len(rows)
        return [r.phone for r in rows]

    assert phones(query="2222") == ["51922222222"]
    assert phones(query="quispe") == ["51911111111"]
    assert sorted(phones(query="PAPA")) == ["51922222222", "51933333333"]
    assert phones(query="maiz", crop="maíz") == ["51911111111"]
    assert phones(query="huanc") == ["51911111111"]
    assert phones(query="_") == []  # a LIKE wildcard matches itself only
    assert phones(needs_human=True) == ["51922222222"]
    assert sorted(phones(status="activo")) == ["51911111111", "51922222222"]
    assert phones()[0] == "51922222222"  # waiting for a person comes first
    rows, total = search_producers(database, limit=2, offset=2)
    assert (len(rows), total) == (1, 3)
    assert rows[0].cultivo in ("maíz", "papa")


def test_dashboard_counts_only_todays_messages(
    database: Database, producers: dict[str, int]
) -> None:
    messages = MessageStore(database)
    pid = producers["51911111111"]
    for at, status in (
        (DAY - dt.timedelta(minutes=1), "answered"),  # yesterday, local time
        (DAY + dt.timedelta(hours=1), "answered"),
        (DAY + dt.timedelta(hours=2), "failed"),
    ):
        inbound = messages.add_inbound(pid, "hola", now=at)
        messages.record_reply(inbound.id, "respuesta", status=status, now=at)
    counts = dashboard_counts(database, day_start=DAY)
    assert counts.producers_by_status == {"activo": 2, "nuevo": 1}
    assert counts.producers_total == 3
    assert counts.needs_human == 1
    assert (counts.messages_in_today, counts.messages_out_today, counts.failed_in_today) == (
        2,
        2,
        1,
    )


def test_last_escalation_names_the_message(database: Database, producers: dict[str, int]) -> None:
    pid = producers["51922222222"]
    assert last_escalation(database, pid) is None
    record_audit(
        database,
        actor="model",
        action="escalar_a_humano",
        target=f"producer:{pid}",
        details={"message_id": 7},
        now=DAY,
    )
    assert last_escalation(database, pid) == (DAY, 7)
