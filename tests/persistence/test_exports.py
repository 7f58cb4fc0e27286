"""The stores' batches for the exports: every row once, in id order, a page at a time (keyset
pagination), on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from agrochat.persistence import AlertStore, Database, MessageStore, OutboxStore, ProducerStore

BATCH = 3


def make_producers(db: Database, count: int) -> list[int]:
    store = ProducerStore(db)
    ids = []
    for i in range(count):
        producer, _ = store.get_or_create(f"519000000{i:02d}")
        store.set_fields(producer.id, {"cultivo": "papa", "area_ha": str(i)}, source="admin")
        ids.append(producer.id)
    return ids


def test_producer_batches_hold_every_producer_once_with_their_profile(database: Database) -> None:
    ids = make_producers(database, 2 * BATCH + 1)
    other, _ = ProducerStore(database).get_or_create("51999999999")  # no profile at all

    batches = list(ProducerStore(database).profile_batches(size=BATCH))

    assert [len(b) for b in batches] == [BATCH, BATCH, 2]
    rows = [row for batch in batches for row in batch]
    assert [p.id for p, _ in rows] == [*ids, other.id]
    assert rows[4][1] == {"cultivo": "papa", "area_ha": "4"}
    assert rows[-1][1] == {}


def test_producer_batches_filter_by_status(database: Database) -> None:
    ids = make_producers(database, 2 * BATCH)
    store = ProducerStore(database)
    active = ids[1::2]
    for pid in active:
        store.update(pid, status="activo")
    found = [p.id for b in store.profile_batches(status="activo", size=2) for p, _ in b]
    assert found == active


def test_producer_batches_are_read_one_at_a_time_and_skip_nothing_when_rows_go(
    database: Database,
) -> None:
    """Keyset pages: a row deleted after its page was read does not shift the next page (with
    OFFSET the first row of the next page would be skipped)."""
    ids = make_producers(database, 2 * BATCH)
    pages = ProducerStore(database).profile_batches(size=BATCH)
    first = next(pages)
    with database.tx() as conn:
        conn.execute(sa.text("DELETE FROM form_fields WHERE producer_id = :id"), {"id": ids[0]})
        conn.execute(sa.text("DELETE FROM producers WHERE id = :id"), {"id": ids[0]})
    rest = [p.id for b in pages for p, _ in b]
    assert [p.id for p, _ in first] + rest == ids


def test_message_batches_are_one_producers_conversation_oldest_first(database: Database) -> None:
    rosa, pedro = make_producers(database, 2)
    store = MessageStore(database)
    expected = []
    for i in range(BATCH + 2):
        inbound = store.add_inbound(rosa, f"pregunta {i}")
        store.add_inbound(pedro, f"de Pedro {i}")
        reply = store.record_reply(inbound.id, f"respuesta {i}", status="answered")
        expected += [inbound.id, reply.id]

    batches = list(store.batches(rosa, size=BATCH))

    assert all(len(b) == BATCH for b in batches[:-1]) and 0 < len(batches[-1]) <= BATCH
    messages = [m for b in batches for m in b]
    assert [m.id for m in messages] == expected
    assert {m.producer_id for m in messages} == {rosa}
    assert list(store.batches(999_999, size=BATCH)) == []


def test_alert_batches_hold_every_alert_of_a_status_with_its_delivery(database: Database) -> None:
    store = AlertStore(database)
    ids = [
        store.create(phone="51987654321", message=f"Alerta {i}", level="media", source="admin")
        for i in range(2 * BATCH + 2)
    ]
    for alert_id in ids[::2]:
        store.mark_sent(alert_id)
    outbox = OutboxStore(database)
    queued = outbox.enqueue("51987654321", "Alerta 0", alert_id=ids[0])
    assert queued is not None
    outbox.mark_sent(queued, "wamid.1")
    outbox.record_delivery("wamid.1", "read")

    every = [a.id for b in store.batches(size=BATCH) for a in b]
    sent = [a.id for b in store.batches(status="sent", size=BATCH) for a in b]

    assert every == ids
    assert sent == ids[::2]
    assert outbox.alert_deliveries(ids) == {ids[0]: "read"}
    assert outbox.alert_deliveries([]) == {}
