from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time

from agrochat.persistence import AlertStore, Database, NewAlert
from tests.alerts._data import add_producer, count
from tests.schema import alerts

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)


def test_create_normalises_the_phone_and_finds_the_producer(database: Database) -> None:
    pid = add_producer(database, "51987654321")
    store = AlertStore(database)
    with freeze_time(T0):
        alert_id = store.create(
            phone="51987654321@c.us", message="Posible plaga", level="alta", source="model"
        )
    alert = store.get(alert_id)
    assert alert is not None
    assert (alert.phone, alert.producer_id, alert.status, alert.source) == (
        "51987654321",
        pid,
        "pending",
        "model",
    )
    assert alert.scheduled_at == T0
    assert alert.expires_at == T0 + dt.timedelta(hours=48)


@pytest.mark.parametrize(
    ("field", "value"),
    [("level", "urgente"), ("source", "bridge"), ("message", "  "), ("phone", "12ab")],
)
def test_create_rejects_bad_values_and_stores_nothing(
    database: Database, field: str, value: str
) -> None:
    args = {"phone": "51987654321", "message": "Helada", "level": "alta", "source": "api"}
    args[field] = value
    with pytest.raises(ValueError):
        AlertStore(database).create(**args)
    assert count(database, alerts) == 0


def test_rule_key_makes_creation_idempotent(database: Database) -> None:
    store = AlertStore(database)
    new = NewAlert(
        phone="51987654321", message="Riega", level="media", source="rule", rule_key="riego:1:x"
    )
    first = store.create_many([new])
    assert len(first) == 1
    assert store.create_many([new]) == []
    assert store.create(**new.__dict__) == first[0]
    assert count(database, alerts) == 1


def test_segment_alert_goes_to_each_active_producer_of_the_segment(database: Database) -> None:
    papa = add_producer(database, "51900000001", fields={"cultivo": "Papa ", "distrito": "Huanta"})
    add_producer(database, "51900000002", fields={"cultivo": "maíz", "distrito": "Huanta"})
    add_producer(database, "51900000003", fields={"cultivo": "papa"}, status="inactivo")
    papa2 = add_producer(database, "51900000004", fields={"cultivo": "papa", "distrito": "Tambo"})
    store = AlertStore(database)
    ids = store.create_for_segment(
        {"cultivo": "PAPA"}, message="Rancha", level="alta", source="api"
    )
    assert [store.get(i).producer_id for i in ids] == [papa, papa2]  # type: ignore[union-attr]


def test_pending_due_lists_only_due_unexpired_pending_alerts(database: Database) -> None:
    store = AlertStore(database)
    with freeze_time(T0) as clock:
        due = store.create(phone="51900000001", message="a", level="alta", source="api")
        later = store.create(
            phone="51900000001",
            message="b",
            level="baja",
            source="api",
            scheduled_at=T0 + dt.timedelta(hours=1),
        )
        stale = store.create(
            phone="51900000001",
            message="c",
            level="baja",
            source="api",
            expires_at=T0 + dt.timedelta(minutes=30),
        )
        sent = store.create(phone="51900000001", message="d", level="baja", source="api")
        store.mark_sent(sent)
        assert [a.id for a in store.pending_due()] == [due, stale]
        clock.tick(dt.timedelta(hours=1))
        assert [a.id for a in store.pending_due()] == [due, later]


def test_mark_sent_is_idempotent_and_reports_unknown_ids(database: Database) -> None:
    store = AlertStore(database)
    alert_id = store.create(phone="51900000001", message="a", level="alta", source="api")
    assert store.mark_sent(alert_id) is True
    assert store.mark_sent(alert_id) is False
    assert store.mark_sent(alert_id + 1000) is None
    assert store.get(alert_id).status == "sent"  # type: ignore[union-attr]


def test_claimed_alert_is_not_claimed_again_until_its_lease_runs_out(database: Database) -> None:
    store = AlertStore(database)
    with freeze_time(T0) as clock:
        alert_id = store.create(phone="51900000001", message="a", level="alta", source="api")
        claimed = store.claim_due(limit=10, lease_s=60, claimed_by="p1")
        assert [(a.id, a.status, a.claimed_by) for a in claimed] == [(alert_id, "sending", "p1")]
        assert store.claim_due(limit=10, lease_s=60, claimed_by="p2") == []
        clock.tick(61)
        assert [a.claimed_by for a in store.claim_due(limit=10, lease_s=60, claimed_by="p2")] == [
            "p2"
        ]


def test_model_alert_is_stored_sent_in_chat_and_never_pushed(database: Database) -> None:
    pid = add_producer(database, "51900000001", last_inbound_at=T0)
    store = AlertStore(database)
    alert_id = store.record_model_alert(
        producer_id=pid, phone="51900000001", level="alta", message="Rancha", now=T0
    )
    alert = store.get(alert_id)
    assert alert is not None
    assert (alert.source, alert.status, alert.delivery, alert.sent_at) == (
        "model",
        "sent",
        "chat",
        T0,
    )
    assert store.pending_due(now=T0) == []
    assert store.claim_due(limit=10, lease_s=60, claimed_by="p1", now=T0) == []
