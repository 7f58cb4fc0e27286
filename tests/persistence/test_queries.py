"""The stores' queries over many rows (the panel's lists and counts, alert segments), on SQLite
and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from agrochat.persistence import (
    Database,
    MessageStore,
    ProducerStore,
    Traffic,
    last_escalation,
    record_audit,
)

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
        rows, total = ProducerStore(database).search(**kwargs)  # type: ignore[arg-type]
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
    rows, total = ProducerStore(database).search(limit=2, offset=2)
    assert (len(rows), total) == (1, 3)
    assert rows[0].cultivo in ("maíz", "papa")


def test_producers_are_counted_by_status(database: Database, producers: dict[str, int]) -> None:
    assert ProducerStore(database).counts() == {"activo": 2, "nuevo": 1}


def test_names_are_found_for_a_page_of_producer_ids(
    database: Database, producers: dict[str, int]
) -> None:
    ids = [producers["51911111111"], producers["51933333333"]]
    assert ProducerStore(database).names(ids) == {ids[0]: "Rosa Quispe", ids[1]: None}
    assert ProducerStore(database).names([]) == {}


def test_traffic_counts_only_messages_since_the_given_moment(
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
    assert messages.traffic(since=DAY) == Traffic(inbound=2, outbound=2, failed=1)


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


def test_segment_selects_active_producers_by_profile(database: Database) -> None:
    store = ProducerStore(database)

    def add(phone: str, fields: dict[str, str], status: str = "activo") -> int:
        producer, _ = store.get_or_create(phone, now=DAY)
        store.set_fields(producer.id, fields, source="api", now=DAY)
        store.update(producer.id, status=status, now=DAY)
        return producer.id

    papa = add("51900000001", {"cultivo": "Papa ", "distrito": "Huanta"})
    add("51900000002", {"cultivo": "maíz", "distrito": "Huanta"})
    add("51900000003", {"cultivo": "papa"}, status="inactivo")
    papa2 = add("51900000004", {"cultivo": "papa", "distrito": "Tambo"})
    assert [p for p, _ in store.in_segment({"cultivo": "papa"})] == [papa, papa2]
    assert store.in_segment({"cultivo": "papa", "distrito": "huanta"}) == [(papa, "51900000001")]
    assert len(store.in_segment(None)) == 3
    with pytest.raises(ValueError):
        store.in_segment({"telefono": "519"})
