"""No answer is promised that nothing can deliver (issue 12, item 11).

With ``AGROCHAT_WHATSAPP=none`` the seed's bridge reads the answer from ``/agent`` and nothing
else reaches the producer: an overloaded model must not turn into "te respondo en breve", a reply
that cannot be given now asks them to write again, and a message left unanswered (a crash) is not
answered later into the void. With a gateway of ours the later answer does reach them, through
the outbox. Both modes, both databases."""

from __future__ import annotations

import pytest

from agrochat import wording
from agrochat.config import Config
from agrochat.errors import Overloaded
from agrochat.persistence import Database, MessageStore, ProducerStore
from tests.session._profiles import PROFILE
from tests.session.conftest import (
    PHONE,
    ConversationFactory,
    FakeInference,
    RecordingSend,
    incoming,
)

# What a gateway of ours calls itself, and what the seed's bridge is (its answer is /agent's).
MODES = {"gateway": "waha", "none": "api"}
PROMISES = ("en breve", "te respondo", "te responderé", "más tarde te")


@pytest.fixture
def registered(database: Database, config: Config) -> ConversationFactory:
    producers = ProducerStore(database)
    producer, _ = producers.get_or_create(PHONE)
    producers.set_fields(producer.id, PROFILE, source="api")
    producers.update(producer.id, name="Rosa Quispe", status="activo")
    return ConversationFactory(database, config)


def _producer_id(db: Database) -> int:
    producer = ProducerStore(db).get(PHONE)
    assert producer is not None
    return producer.id


def _promises(text: str) -> list[str]:
    return [p for p in PROMISES if p in text.lower()]


@pytest.mark.parametrize("mode", MODES)
def test_an_overloaded_model_means_an_answer_now_not_a_promise(
    registered: ConversationFactory, mode: str
) -> None:
    send = RecordingSend()
    model = FakeInference(lambda request: Overloaded("queue full"))
    conversation = registered(inference=model, send=send if mode == "gateway" else None)
    outcome = conversation.handle(incoming("¿cuando riego?", source=MODES[mode]))
    text = outcome.reply.model_output["respuesta_chat"]
    assert model.calls >= 1, "the question should have gone to the (overloaded) model"
    assert _promises(text) == []
    assert outcome.reply.model_output["estado"]["respondida"] is True
    db = registered.database
    # Answered now: nothing is left "received" for a later answer.
    history = MessageStore(db).history(_producer_id(db), limit=5).messages
    assert [(m.direction, m.status) for m in history] == [("in", "answered"), ("out", "answered")]
    assert [s.text for s in send.sent] == ([text] if mode == "gateway" else [])


@pytest.mark.parametrize("mode", MODES)
def test_a_reply_too_late_to_give_asks_to_write_again_and_leaves_nothing_pending(
    registered: ConversationFactory, mode: str
) -> None:
    send = RecordingSend()
    conversation = registered(send=send if mode == "gateway" else None)
    outcome = conversation.handle(incoming("¿cuando riego?", source=MODES[mode], timeout_s=-1))
    assert outcome.reply.model_output["respuesta_chat"] == wording.TIMEOUT
    assert "escribirme de nuevo" in wording.TIMEOUT and _promises(wording.TIMEOUT) == []
    db = registered.database
    history = MessageStore(db).history(_producer_id(db), limit=5).messages
    assert [(m.direction, m.status) for m in history] == [("in", "failed"), ("out", "answered")]


def test_without_a_gateway_an_earlier_unanswered_message_is_not_answered_into_the_void(
    registered: ConversationFactory,
) -> None:
    db = registered.database
    store = MessageStore(db)
    # Accepted, then the process died before answering: the bridge got an error, not a reply.
    earlier = store.add_inbound(_producer_id(db), "¿cómo controlo la rancha?")
    outcome = registered(send=None).handle(incoming("gracias", source="api"))
    assert outcome.reply.model_output["respuesta_chat"] == wording.THANKS.format(name=", Rosa")
    history = store.history(_producer_id(db), limit=10).messages
    assert [(m.id, m.status) for m in history if m.id == earlier.id] == [(earlier.id, "failed")]
    assert [m for m in history if m.reply_to_id == earlier.id] == []


def test_with_a_gateway_an_earlier_unanswered_message_is_answered_first_through_it(
    registered: ConversationFactory,
) -> None:
    db = registered.database
    store = MessageStore(db)
    earlier = store.add_inbound(_producer_id(db), "¿cómo controlo la rancha?")
    send = RecordingSend()
    registered(send=send).handle(incoming("gracias", source="waha"))
    assert len(send.sent) == 2 and "rancha" in send.sent[0].text.lower()
    assert send.sent[1].text == wording.THANKS.format(name=", Rosa")
    stored = store.get(earlier.id)
    assert stored is not None and stored.status == "answered"
