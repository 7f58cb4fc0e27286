"""ProducerStore, MessageStore and KnowledgeStore on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from agrochat.persistence import (
    Database,
    DuplicateMessage,
    MessageStore,
    ProducerStore,
)

NOW = dt.datetime(2026, 3, 10, 15, 0)


def test_unknown_phone_creates_a_new_producer_once(database: Database) -> None:
    store = ProducerStore(database)
    first, created = store.get_or_create("51987654321", now=NOW)
    again, created_again = store.get_or_create("51987654321", now=NOW)
    assert created and not created_again
    assert first.id == again.id
    assert first.status == "nuevo" and not first.needs_human
    assert store.count() == 1


def test_form_fields_are_upserted_per_field(database: Database) -> None:
    store = ProducerStore(database)
    producer, _ = store.get_or_create("51987654321")
    store.set_fields(producer.id, {"cultivo": "papa", "area_ha": "2"}, source="model")
    store.set_fields(producer.id, {"cultivo": "maíz"}, source="api")
    assert store.fields(producer.id) == {"cultivo": "maíz", "area_ha": "2"}


def test_producer_update_rejects_columns_it_does_not_own(database: Database) -> None:
    store = ProducerStore(database)
    producer, _ = store.get_or_create("51987654321")
    store.update(producer.id, status="activo", needs_human=True, name="Juan")
    updated = store.get("51987654321")
    assert updated is not None
    assert (updated.status, updated.needs_human, updated.name) == ("activo", True, "Juan")
    with pytest.raises(ValueError):
        store.update(producer.id, phone="1")


def test_same_gateway_message_id_is_stored_once(database: Database) -> None:
    producer, _ = ProducerStore(database).get_or_create("51987654321")
    messages = MessageStore(database)
    first = messages.add_inbound(producer.id, "hola", gateway_message_id="wamid.1")
    with pytest.raises(DuplicateMessage) as dup:
        messages.add_inbound(producer.id, "hola", gateway_message_id="wamid.1")
    assert dup.value.existing.id == first.id
    # The transaction after the failed insert still works (PostgreSQL aborts it otherwise).
    second = messages.add_inbound(producer.id, "otra", gateway_message_id="wamid.2")
    assert second.id > first.id


def test_reply_is_stored_with_its_inbound_status_atomically(database: Database) -> None:
    producer, _ = ProducerStore(database).get_or_create("51987654321")
    messages = MessageStore(database)
    inbound = messages.add_inbound(producer.id, "¿cuándo riego?")
    assert inbound.status == "received"
    out = messages.record_reply(
        inbound.id,
        "Mañana temprano.",
        status="answered",
        model_output={"respuesta_chat": "Mañana temprano."},
        latency_ms=120,
        prompt_tokens=300,
        completion_tokens=40,
    )
    assert out.reply_to_id == inbound.id and out.direction == "out"
    assert out.model_output == {"respuesta_chat": "Mañana temprano."}
    assert (out.latency_ms, out.prompt_tokens, out.completion_tokens) == (120, 300, 40)
    assert messages.get(inbound.id).status == "answered"  # type: ignore[union-attr]
    assert messages.latest_reply(inbound.id).id == out.id  # type: ignore[union-attr]


def test_history_is_oldest_first_with_total_count(database: Database) -> None:
    producer, _ = ProducerStore(database).get_or_create("51987654321")
    messages = MessageStore(database)
    for i in range(5):
        messages.add_inbound(producer.id, f"m{i}")
    history = messages.history(producer.id, limit=3)
    assert history.total == 5
    assert [m.text for m in history.messages] == ["m2", "m3", "m4"]


def test_unanswered_messages_are_found_and_old_ones_expired(database: Database) -> None:
    producer, _ = ProducerStore(database).get_or_create("51987654321")
    messages = MessageStore(database)
    old = messages.add_inbound(producer.id, "viejo", now=NOW - dt.timedelta(days=2))
    fresh = messages.add_inbound(producer.id, "nuevo", now=NOW)
    answered = messages.add_inbound(producer.id, "respondido", now=NOW)
    messages.record_reply(answered.id, "ok", status="answered")
    assert messages.expire_unanswered(producer.id, before=NOW - dt.timedelta(days=1)) == 1
    assert messages.get(old.id).status == "failed"  # type: ignore[union-attr]
    pending = messages.unanswered(producer.id, since=NOW - dt.timedelta(days=1))
    assert [m.id for m in pending] == [fresh.id]
