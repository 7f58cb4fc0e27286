"""Conversation with a gateway of ours: messages the WhatsApp inbox stored first, photos and
stickers, a person of the team taking the conversation and handing it back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agrochat import wording
from agrochat.actors.session import Status
from agrochat.persistence import MessageStore, ProducerStore
from tests.schema import audit, outbox
from tests.session.conftest import PHONE, RecordingSend, incoming
from tests.session.test_conversation import PROFILE


@pytest.fixture
def registered(make_conversation):
    producers = ProducerStore(make_conversation.database)
    producer, _ = producers.get_or_create(PHONE)
    producers.set_fields(producer.id, PROFILE, source="api")
    producers.update(producer.id, name="Rosa Quispe", status="activo", channel="norte")
    return make_conversation


def _stored_by_inbox(db, text: str, gateway_id: str, media_type: str | None = None) -> None:
    producer = ProducerStore(db).get(PHONE)
    assert producer is not None
    MessageStore(db).add_inbound(
        producer.id, text, gateway_message_id=gateway_id, media_type=media_type
    )


def _outbox(db) -> list[sa.Row]:
    with db.tx() as conn:
        return conn.execute(
            sa.select(outbox.c.text, outbox.c.channel, outbox.c.reply_to_id).order_by(outbox.c.id)
        ).all()


def test_a_message_the_inbox_stored_is_answered_not_replayed(registered) -> None:
    db = registered.database
    _stored_by_inbox(db, "¿cómo controlo la rancha?", "wamid.1")
    send = RecordingSend()
    outcome = registered(send=send).handle(
        incoming("¿cómo controlo la rancha?", message_id="wamid.1", source="cloud")
    )
    assert outcome.status is Status.ANSWERED
    assert len(send.sent) == 1 and "Fuente:" in send.sent[0].text
    # Told again (a redelivery, the sweep): the first answer, nothing sent twice.
    again = registered(send=send).handle(
        incoming("¿cómo controlo la rancha?", message_id="wamid.1", source="cloud")
    )
    assert again.status is Status.REPLAYED and len(send.sent) == 1


def test_replies_go_out_through_the_number_the_producer_wrote_to(registered) -> None:
    send = RecordingSend()
    registered(send=send).handle(incoming("hola", message_id="wamid.2", source="waha"))
    assert [s.channel for s in send.sent] == ["norte"]
    assert [row.channel for row in _outbox(registered.database)] == ["norte"]


def test_two_stored_messages_are_answered_in_their_order(registered) -> None:
    db = registered.database
    _stored_by_inbox(db, "¿cómo controlo la rancha?", "wamid.a")
    _stored_by_inbox(db, "gracias", "wamid.b")
    send = RecordingSend()
    conversation = registered(send=send)
    conversation.handle(incoming("¿cómo controlo la rancha?", message_id="wamid.a", source="waha"))
    conversation.handle(incoming("gracias", message_id="wamid.b", source="waha"))
    texts = [s.text for s in send.sent]
    assert len(texts) == 2 and "rancha" in texts[0].lower()
    assert texts[1] == wording.THANKS.format(name=", Rosa")


def test_a_photo_gets_one_polite_text_asking_for_words(registered) -> None:
    db = registered.database
    _stored_by_inbox(db, "mira mi papa", "wamid.img", media_type="image")
    send = RecordingSend()
    conversation = registered(send=send)
    conversation.handle(incoming("mira mi papa", message_id="wamid.img", source="waha"))
    conversation.handle(incoming("mira mi papa", message_id="wamid.img", source="waha"))
    assert [s.text for s in send.sent] == [wording.MEDIA]


def test_asking_for_a_person_hands_the_conversation_to_the_team(registered) -> None:
    send = RecordingSend()
    conversation = registered(send=send)
    conversation.handle(incoming("quiero hablar con una persona", source="waha"))
    producer = ProducerStore(registered.database).get(PHONE)
    assert producer is not None and producer.taken_over and producer.needs_human
    assert [s.text for s in send.sent] == [wording.ESCALATED]
    # The assistant stays quiet now; the message waits for the team.
    outcome = conversation.handle(incoming("¿cómo controlo la rancha?", source="waha"))
    assert outcome.status is Status.HELD and len(send.sent) == 1
    last = MessageStore(registered.database).history(producer.id, limit=1).messages[-1]
    assert (last.direction, last.status) == ("in", "held")


def test_an_admin_reply_is_sent_stored_as_theirs_and_takes_the_conversation(registered) -> None:
    send = RecordingSend()
    conversation = registered(send=send)
    result = conversation.admin_reply("Hola Rosa, te llamo en la tarde.", author="admin:ana")
    assert [(s.text, s.channel) for s in send.sent] == [
        ("Hola Rosa, te llamo en la tarde.", "norte")
    ]
    db = registered.database
    producer = ProducerStore(db).get(PHONE)
    assert producer is not None and producer.taken_over and producer.taken_over_by == "admin:ana"
    message = MessageStore(db).get(result["message_id"])
    assert message is not None and (message.direction, message.author) == ("out", "admin:ana")
    assert _outbox(db)[0].reply_to_id == message.id
    with db.tx() as conn:
        actions = conn.execute(sa.select(audit.c.actor, audit.c.action)).all()
    assert ("admin:ana", "respuesta_humana") in [tuple(a) for a in actions]


def test_the_api_caller_is_told_a_person_attends_while_taken_over(registered) -> None:
    conversation = registered()
    conversation.take_over(author="admin:ana", to_assistant=False)
    outcome = conversation.handle(incoming("¿cómo controlo la rancha?", source="api"))
    assert outcome.status is Status.HELD
    assert outcome.reply.model_output["respuesta_chat"] == wording.WITH_A_PERSON


def test_handing_back_lets_the_assistant_answer_again(registered) -> None:
    send = RecordingSend()
    conversation = registered(send=send)
    conversation.take_over(author="admin:ana", to_assistant=False)
    assert conversation.handle(incoming("hola", source="waha")).status is Status.HELD
    conversation.take_over(author="admin:ana", to_assistant=True)
    producer = ProducerStore(registered.database).get(PHONE)
    assert producer is not None and not producer.taken_over and not producer.needs_human
    outcome = conversation.handle(incoming("¿cómo controlo la rancha?", source="waha"))
    assert outcome.status is Status.ANSWERED
    # The held message was the team's: it is not answered late by the assistant.
    assert len(send.sent) == 1 and "rancha" in send.sent[0].text.lower()


def test_a_long_reply_is_split_into_parts_sent_in_order(make_conversation) -> None:
    from agrochat.actors.session import Delivery
    from agrochat.actors.whatsapp import split_message

    db = make_conversation.database
    send = RecordingSend()
    conversation = make_conversation(send=send)
    conversation.delivery = Delivery(db, send, split=lambda text: split_message(text, 60))
    conversation.recorder.delivery = conversation.delivery
    text = "Primera oración del equipo. " * 5
    conversation.admin_reply(text.strip(), author="admin:ana")
    parts = [s.text for s in send.sent]
    assert len(parts) > 1 and all(len(p) <= 60 for p in parts)
    assert " ".join(parts) == text.strip()
    assert [row.text for row in _outbox(db)] == parts
