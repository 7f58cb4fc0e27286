"""The review queue's store: why each of the assistant's replies needs a look, and what the
admins decided, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time

from agrochat.model_output import build_output, canned_output
from agrochat.persistence import (
    ASKED_AGAIN_WITHIN,
    Database,
    MessageStore,
    OutboxStore,
    ProducerStore,
    ReviewReason,
    ReviewStatus,
    ReviewStore,
    StoredMessage,
)

ROSA = "51911111111"
T0 = dt.datetime(2026, 9, 15, 14, 0)


@pytest.fixture
def rosa(database: Database) -> int:
    store = ProducerStore(database)
    producer, _ = store.get_or_create(ROSA)
    store.set_fields(producer.id, {"nombre": "Rosa Quispe", "cultivo": "papa"}, source="model")
    store.update(producer.id, name="Rosa Quispe", status="activo")
    return producer.id


def turn(
    db: Database,
    producer_id: int,
    question: str,
    *,
    answered: bool = True,
    role: str = "consulta",
    escalate: bool = False,
    now: dt.datetime | None = None,
) -> StoredMessage:
    """The producer writes, the assistant replies (from a vetted entry, or not)."""
    store = MessageStore(db)
    inbound = store.add_inbound(producer_id, question, now=now)
    text = "Riega cada 5 días (INIA, 2019)." if answered else "No tengo información verificada."
    output = build_output(
        role=role,
        text=text,
        answered=answered,
        escalate=escalate,
        knowledge=[7] if answered else [],
    )
    return store.record_reply(
        inbound.id, text, status="answered", role=role, model_output=output, now=now
    )


def reasons(db: Database) -> dict[int, tuple[ReviewReason, ...]]:
    items, total = ReviewStore(db).pending(limit=100)
    assert total == len(items)
    return {item.reply_id: item.reasons for item in items}


def test_a_reply_with_no_vetted_answer_waits_for_review(database: Database, rosa: int) -> None:
    known = turn(database, rosa, "¿Cada cuánto riego la papa?")
    unknown = turn(database, rosa, "¿Qué le echo a la quinua con rancha?", answered=False, now=T0)

    assert reasons(database) == {unknown.id: (ReviewReason.NO_ANSWER,)}
    items, _ = ReviewStore(database).pending()
    item = items[0]
    assert item.question == "¿Qué le echo a la quinua con rancha?"
    assert item.reply_text == "No tengo información verificada."
    assert (item.producer_name, item.phone, item.crop) == ("Rosa Quispe", ROSA, "papa")
    assert item.replied_at == T0
    assert item.status is ReviewStatus.PENDING
    assert known.id not in reasons(database)


def test_a_holding_reply_followed_by_the_real_answer_is_no_gap(
    database: Database, rosa: int
) -> None:
    store = MessageStore(database)
    inbound = store.add_inbound(rosa, "¿Cuándo cosecho?")
    busy = canned_output("consulta", "Estoy con muchas consultas, te respondo en un momento.")
    store.record_reply(inbound.id, busy["respuesta_chat"], status="received", model_output=busy)
    answer = build_output(role="consulta", text="Cosecha cuando...", answered=True, knowledge=[3])
    store.record_reply(inbound.id, "Cosecha cuando...", status="answered", model_output=answer)

    assert reasons(database) == {}


def test_greetings_registration_and_asking_for_a_person_are_not_gaps_in_the_advice(
    database: Database, rosa: int
) -> None:
    turn(database, rosa, "hola", answered=False, role="saludo")
    turn(database, rosa, "Rosa", answered=False, role="registro")
    turn(database, rosa, "quiero hablar con un ingeniero", answered=False, escalate=True)

    assert reasons(database) == {}


def test_a_thumbs_down_in_any_skin_tone_queues_the_reply(database: Database, rosa: int) -> None:
    messages, outbox = MessageStore(database), OutboxStore(database)
    replies = [
        turn(database, rosa, f"pregunta {n}", now=T0 + dt.timedelta(hours=n)) for n in range(4)
    ]
    for n, (reply, emoji) in enumerate(zip(replies, ("👎", "👎🏽", "👍", ""), strict=True)):
        row = outbox.enqueue(ROSA, reply.text, reply_to_id=reply.id)
        assert row is not None
        outbox.claim_one(row, 60)
        outbox.mark_sent(row, f"wamid.{n}")
        assert messages.record_reaction(rosa, f"wamid.{n}", emoji or "👎")
        if not emoji:
            messages.record_reaction(rosa, f"wamid.{n}", "")  # taken back

    assert reasons(database) == {
        replies[0].id: (ReviewReason.THUMBS_DOWN,),
        replies[1].id: (ReviewReason.THUMBS_DOWN,),
    }


def test_asking_another_question_right_after_a_reply_queues_that_reply(
    database: Database, rosa: int
) -> None:
    with freeze_time(T0) as clock:
        first = turn(database, rosa, "¿Cómo controlo la rancha?")
        clock.tick(ASKED_AGAIN_WITHIN - dt.timedelta(minutes=1))
        second = turn(database, rosa, "¿Y si ya tiene manchas negras?")
        clock.tick(ASKED_AGAIN_WITHIN + dt.timedelta(minutes=1))
        turn(database, rosa, "¿Cuándo aporco?")

    assert reasons(database) == {first.id: (ReviewReason.ASKED_AGAIN,)}
    assert second.id not in reasons(database)


def test_thanks_or_a_profile_answer_right_after_is_not_asking_again(
    database: Database, rosa: int
) -> None:
    with freeze_time(T0) as clock:
        turn(database, rosa, "¿Cómo controlo la rancha?")
        clock.tick(dt.timedelta(minutes=1))
        turn(database, rosa, "gracias", answered=False, role="saludo")
        clock.tick(dt.timedelta(minutes=1))
        turn(database, rosa, "2 hectáreas", answered=False, role="registro")

    assert reasons(database) == {}


def test_only_the_assistants_replies_can_be_flagged_and_a_flag_queues_them(
    database: Database, rosa: int
) -> None:
    reviews, messages = ReviewStore(database), MessageStore(database)
    reply = turn(database, rosa, "¿Cada cuánto riego?")
    admins = messages.add_outbound(rosa, "Te llamo mañana.", author="admin:ana")

    assert reviews.flag(reply.id, by="admin:ana", now=T0)
    assert not reviews.flag(reply.reply_to_id or 0, by="admin:ana")  # the producer's message
    assert not reviews.flag(admins.id, by="admin:ana")
    assert not reviews.flag(999_999, by="admin:ana")

    assert reasons(database) == {reply.id: (ReviewReason.FLAGGED,)}
    item = reviews.get(reply.id)
    assert item is not None and item.flagged_by == "admin:ana"
    assert reviews.get(admins.id) is None


def test_a_handled_reply_leaves_the_queue_until_flagged_again(
    database: Database, rosa: int
) -> None:
    reviews = ReviewStore(database)
    reply = turn(database, rosa, "¿Qué le echo a la quinua?", answered=False)
    assert reply.id in reasons(database)

    assert reviews.handle(reply.id, ReviewStatus.FINE, by="admin:ana")
    assert reasons(database) == {}
    item = reviews.get(reply.id)
    assert item is not None and item.status is ReviewStatus.FINE
    assert item.reasons == (ReviewReason.NO_ANSWER,)  # still why it was there

    assert reviews.flag(reply.id, by="admin:luis")
    assert reasons(database) == {reply.id: (ReviewReason.NO_ANSWER, ReviewReason.FLAGGED)}
    assert reviews.handle(reply.id, ReviewStatus.ENTRY, by="admin:luis")
    assert reasons(database) == {}
    with pytest.raises(ValueError):
        reviews.handle(reply.id, ReviewStatus.PENDING, by="admin:luis")


def test_the_queue_is_oldest_first_in_pages(database: Database, rosa: int) -> None:
    replies = [
        turn(database, rosa, f"pregunta {n}", answered=False, now=T0 + dt.timedelta(hours=n))
        for n in range(3)
    ]
    store = ReviewStore(database)
    first, total = store.pending(limit=2)
    rest, again = store.pending(limit=2, offset=2)

    assert (total, again) == (3, 3)
    assert [i.reply_id for i in first + rest] == [r.id for r in replies]


def test_an_answered_reply_keeps_its_answer_when_it_becomes_an_entry_too(
    database: Database, rosa: int
) -> None:
    reviews = ReviewStore(database)
    reply = turn(database, rosa, "¿Qué le echo a la quinua?", answered=False)
    sent = MessageStore(database).add_outbound(rosa, "Consulta al técnico.", author="admin:ana")

    assert reviews.handle(reply.id, ReviewStatus.ANSWERED, by="admin:ana", answer_id=sent.id)
    answered = reviews.get(reply.id)
    assert answered is not None and answered.answer == "Consulta al técnico."
    assert reviews.handle(reply.id, ReviewStatus.ENTRY, by="admin:ana")

    entry = reviews.get(reply.id)
    assert entry is not None and entry.status is ReviewStatus.ENTRY
    assert entry.answer == "Consulta al técnico."
