"""A gateway's message id belongs to its producer (issue 12, item 7): unique per producer, looked
up only together with the producer, and migration 4 moves a version-3 database there with every
row kept. Both databases."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from agrochat.persistence import Database, DuplicateMessage, MessageStore, ProducerStore
from tests.schema import (
    LATEST_VERSION,
    MIGRATIONS,
    messages,
    outbox,
    producers,
    reactions,
    schema_version,
)

A, B = "51911111111", "51922222222"
JAN = dt.datetime(2026, 1, 5, 12, 0)


def _producer(db: Database, phone: str) -> int:
    producer, _ = ProducerStore(db).get_or_create(phone)
    return producer.id


def test_two_producers_may_send_messages_with_the_same_id(database: Database) -> None:
    store = MessageStore(database)
    a, b = _producer(database, A), _producer(database, B)
    first = store.add_inbound(a, "¿Cuándo riego?", gateway_message_id="m-1")
    second = store.add_inbound(b, "¿Qué abono le echo?", gateway_message_id="m-1")
    assert first.id != second.id
    assert store.by_gateway_id(a, "m-1") == first
    assert store.by_gateway_id(b, "m-1") == second


def test_the_same_producer_sending_an_id_again_finds_their_own_message(
    database: Database,
) -> None:
    store = MessageStore(database)
    a, b = _producer(database, A), _producer(database, B)
    mine = store.add_inbound(a, "¿Cuándo riego?", gateway_message_id="m-1")
    store.add_inbound(b, "otra cosa", gateway_message_id="m-1")
    with pytest.raises(DuplicateMessage) as raised:
        store.add_inbound(a, "¿Cuándo riego?", gateway_message_id="m-1")
    assert raised.value.existing == mine


def test_a_lookup_by_id_never_finds_another_producers_message(database: Database) -> None:
    store = MessageStore(database)
    a, b = _producer(database, A), _producer(database, B)
    store.add_inbound(a, "Soy Rosa, de Jauja", gateway_message_id="only-a")
    assert store.by_gateway_id(b, "only-a") is None


def test_a_reaction_counts_only_on_a_message_we_sent_to_that_producer(
    database: Database,
) -> None:
    store = MessageStore(database)
    a, b = _producer(database, A), _producer(database, B)
    inbound = store.add_inbound(a, "¿Cuándo riego?")
    reply = store.record_reply(inbound.id, "Riega al amanecer.", producer_id=a, status="answered")
    with database.tx() as conn:
        conn.execute(
            outbox.insert().values(
                phone=A,
                text=reply.text,
                reply_to_id=reply.id,
                status="sent",
                gateway_message_id="true_51911111111@c.us_OUT1",
                created_at=JAN,
            )
        )
    assert not store.record_reaction(b, "true_51911111111@c.us_OUT1", "👎")
    assert store.reactions_of([reply.id]) == {}
    assert store.record_reaction(a, "true_51911111111@c.us_OUT1", "👍")
    assert store.reactions_of([reply.id]) == {reply.id: "👍"}


# -- migration 4 ---------------------------------------------------------------------------------


def _version_3_with_data(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """A database as release 3 left it, with two producers' history, a sent reply, its outbox
    row and a reaction to it; returns the rows, to compare after the migration."""
    with db.engine.begin() as conn:
        schema_version.create(conn)
        for version, migration in MIGRATIONS[:3]:
            migration(conn)
            conn.execute(schema_version.insert().values(version=version, applied_at=JAN))
        a, b = (
            conn.execute(
                producers.insert().values(
                    phone=phone, status="activo", created_at=JAN, updated_at=JAN
                )
            ).inserted_primary_key[0]
            for phone in (A, B)
        )

        def message(pid: int, direction: str, text: str, **values: object) -> int:
            row = messages.insert().values(
                producer_id=pid,
                direction=direction,
                text=text,
                status="answered",
                created_at=JAN,
                **values,
            )
            return int(conn.execute(row).inserted_primary_key[0])

        question = message(a, "in", "¿Cuándo riego?", gateway_message_id="m-1")
        reply = message(a, "out", "Al amanecer.", reply_to_id=question, role="consulta")
        message(b, "in", "Hola", gateway_message_id="m-2")
        conn.execute(
            outbox.insert().values(
                phone=A,
                text="Al amanecer.",
                reply_to_id=reply,
                status="sent",
                gateway_message_id="OUT-1",
                created_at=JAN,
            )
        )
        conn.execute(
            reactions.insert().values(
                producer_id=a,
                message_id=reply,
                emoji="👍",
                target_gateway_id="OUT-1",
                updated_at=JAN,
            )
        )
    return _rows(db)


# Columns later migrations add: a release-3 database has none of them to compare.
_LATER = {"media_source", "media_mimetype", "transcript_confidence"}


def _rows(db: Database) -> dict[str, list[tuple[object, ...]]]:
    with db.engine.connect() as conn:
        return {
            t.name: [
                tuple(r)
                for r in conn.execute(
                    sa.select(*(c for c in t.c if c.name not in _LATER)).order_by(t.c.id)
                )
            ]
            for t in (producers, messages, outbox, reactions)
        }


def test_migration_4_keeps_every_row_and_makes_ids_per_producer(database_url: str) -> None:
    db = Database(database_url)
    try:
        before = _version_3_with_data(db)
        assert db.migrate() == LATEST_VERSION
        # A SQLite table rebuild with foreign keys on would cascade-delete the reaction.
        assert _rows(db) == before
        store = MessageStore(db)
        a, b = (ProducerStore(db).get(phone) for phone in (A, B))
        assert a is not None and b is not None
        assert (
            store.add_inbound(b.id, "Otra pregunta", gateway_message_id="m-1").producer_id == b.id
        )
        with pytest.raises(DuplicateMessage):
            store.add_inbound(a.id, "¿Cuándo riego?", gateway_message_id="m-1")
        inspector = sa.inspect(db.engine)
        assert "ix_messages_producer_created" in {
            i["name"] for i in inspector.get_indexes("messages")
        }
        assert {fk["referred_table"] for fk in inspector.get_foreign_keys("outbox")} >= {"messages"}
    finally:
        db.close()


def test_foreign_keys_hold_after_migration_4(database_url: str) -> None:
    db = Database(database_url)
    try:
        _version_3_with_data(db)
        db.migrate()
        with pytest.raises(sa.exc.IntegrityError), db.tx() as conn:
            conn.execute(
                messages.insert().values(
                    producer_id=999, direction="in", text="x", status="received", created_at=JAN
                )
            )
        with pytest.raises(sa.exc.IntegrityError), db.tx() as conn:
            conn.execute(
                outbox.insert().values(
                    phone=A, text="x", reply_to_id=999, status="pending", created_at=JAN
                )
            )
    finally:
        db.close()
