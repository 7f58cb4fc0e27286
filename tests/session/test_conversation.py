"""Conversation (no actors, no threads): registration, validated actions, failures, idempotency."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from agrochat.actors.session import BUSY, CRASHED, TIMEOUT, UNAVAILABLE
from agrochat.actors.session._conversation import ESCALATED, WELCOME
from agrochat.errors import DeadlineExceeded, ModelUnavailable, Overloaded
from agrochat.knowledge import load_knowledge_seed
from agrochat.persistence import (
    AlertStore,
    KnowledgeStore,
    MessageStore,
    OutboxStore,
    ProducerStore,
)
from tests.alerts._data import count_alerts
from tests.schema import audit
from tests.session.conftest import (
    PHONE,
    FakeInference,
    RecordingSend,
    incoming,
    model_json,
)

FULL_PROFILE = {
    "nombre": "Juan",
    "cultivo": "papa",
    "area_ha": "2",
    "distrito": "Huancayo",
    "fecha_siembra": "2025-11-15",
    "tipo_riego": "goteo",
}


def producer_fields(db) -> dict[str, str]:
    producer = ProducerStore(db).get(PHONE)
    assert producer is not None
    return ProducerStore(db).fields(producer.id)


def register(db, values=FULL_PROFILE) -> None:
    producer, _ = ProducerStore(db).get_or_create(PHONE)
    ProducerStore(db).set_fields(producer.id, values, source="api")
    ProducerStore(db).update(producer.id, status="activo")


def test_first_message_creates_the_producer_and_starts_registration(make_conversation) -> None:
    inference = FakeInference(lambda r: model_json("¡Hola! ¿En qué te ayudo?", role="saludo"))
    conversation = make_conversation(inference=inference)
    outcome = conversation.handle(incoming("Hola", role="saludo"))
    out = outcome.reply.model_output
    assert outcome.status == "answered"
    assert outcome.reply.phone == f"{PHONE}@c.us"
    assert out["respuesta_chat"].startswith(WELCOME)
    assert out["respuesta_chat"].endswith("¿Cómo te llamas?")
    assert out["estado"]["campos_faltantes"] == [
        "nombre",
        "cultivo",
        "area_ha",
        "distrito",
        "fecha_siembra",
        "tipo_riego",
    ]
    producer = ProducerStore(make_conversation.database).get(PHONE)
    assert producer is not None and producer.status == "nuevo"


def test_a_plain_answer_to_the_question_asked_is_stored(make_conversation) -> None:
    # The model proposes nothing; the producer's answer to "¿Cómo te llamas?" is enough.
    inference = FakeInference(lambda r: model_json("Gracias.", role="registro"))
    conversation = make_conversation(inference=inference)
    conversation.handle(incoming("Hola"))
    out = conversation.handle(incoming("me llamo juan pérez")).reply.model_output
    assert producer_fields(make_conversation.database) == {"nombre": "Juan Pérez"}
    assert out["acciones"]["actualizar_formulario"] == {"nombre": "Juan Pérez"}
    assert out["respuesta_chat"].endswith(
        "¿Qué cultivo principal siembras? (por ejemplo papa, maíz, arroz, café, cacao)"
    )
    assert ProducerStore(make_conversation.database).get(PHONE).name == "Juan Pérez"  # type: ignore[union-attr]


def test_model_proposed_values_are_validated_and_normalised(make_conversation) -> None:
    register(make_conversation.database, {"nombre": "Juan", "cultivo": "papa"})
    inference = FakeInference(
        lambda r: model_json(
            "Anotado.",
            role="registro",
            formulario={"area_ha": "5000 m2", "tipo_riego": "por surcos"},
        )
    )
    conversation = make_conversation(inference=inference)
    out = conversation.handle(incoming("son 5000 m2 y riego por surcos")).reply.model_output
    fields = producer_fields(make_conversation.database)
    assert fields["area_ha"] == "0.5"
    assert fields["tipo_riego"] == "gravedad"
    assert out["acciones"]["actualizar_formulario"] == {"area_ha": "0.5", "tipo_riego": "gravedad"}
    assert out["estado"]["campos_faltantes"] == ["distrito", "fecha_siembra"]
    assert out["respuesta_chat"].endswith("¿En qué distrito está tu chacra?")


def test_an_invalid_value_is_not_stored_and_the_field_is_asked_again(make_conversation) -> None:
    register(make_conversation.database, {"nombre": "Juan", "cultivo": "papa"})
    inference = FakeInference(
        lambda r: model_json("Entendido.", role="registro", formulario={"area_ha": "3 manzanas"})
    )
    conversation = make_conversation(inference=inference)
    out = conversation.handle(incoming("3 manzanas")).reply.model_output
    assert "area_ha" not in producer_fields(make_conversation.database)
    assert out["acciones"]["actualizar_formulario"] == {}
    assert (
        "No pude guardar área (hectáreas): dímelo en hectáreas o metros cuadrados."
        in out["respuesta_chat"]
    )
    assert out["respuesta_chat"].endswith("¿Cuántas hectáreas siembras?")
    assert "area_ha" in out["estado"]["campos_faltantes"]


def test_values_the_producer_never_wrote_are_dropped(make_conversation) -> None:
    register(make_conversation.database)
    # A small model copying its context: the producer only asked a question.
    inference = FakeInference(
        lambda r: model_json(formulario={"cultivo": "maíz", "distrito": "Lima"})
    )
    conversation = make_conversation(inference=inference)
    out = conversation.handle(incoming("¿Cuándo riego?")).reply.model_output
    assert producer_fields(make_conversation.database)["cultivo"] == "papa"
    assert producer_fields(make_conversation.database)["distrito"] == "Huancayo"
    assert out["acciones"]["actualizar_formulario"] == {}


def test_a_place_the_producer_named_is_not_taken_for_a_crop(make_conversation) -> None:
    # Seen with the packaged model: "Siembro papa en Huancayo" -> cultivo "huancayo". A value
    # outside the known crops passes only as the producer's own answer to the crop question.
    register(make_conversation.database, {"nombre": "Juan"})
    inference = FakeInference(
        lambda r: model_json(formulario={"cultivo": "huancayo", "distrito": "Huancayo"})
    )
    conversation = make_conversation(inference=inference)
    out = conversation.handle(incoming("Siembro papa en Huancayo")).reply.model_output
    fields = producer_fields(make_conversation.database)
    assert fields.get("cultivo") != "huancayo"
    assert fields["distrito"] == "Huancayo"
    assert "cultivo" not in out["acciones"]["actualizar_formulario"]


def test_a_number_without_its_unit_is_not_taken_for_an_area(make_conversation) -> None:
    # Seen with the packaged model: "Sembré el 15 de septiembre" -> area_ha "15".
    register(make_conversation.database, {"nombre": "Juan", "cultivo": "papa"})
    inference = FakeInference(lambda r: model_json(formulario={"area_ha": "15"}))
    conversation = make_conversation(inference=inference)
    conversation.handle(incoming("Sembré el 15 de septiembre"))
    assert "area_ha" not in producer_fields(make_conversation.database)
    # The same number named with its unit is the producer's area.
    conversation.handle(incoming("Son 15 hectáreas"))
    assert producer_fields(make_conversation.database)["area_ha"] == "15"


def test_sentences_copied_from_the_conversation_are_not_sent_back(make_conversation) -> None:
    # Seen with the packaged model: the producer's message repeated, then the form question it
    # saw in the history, though that field was answered.
    register(make_conversation.database)
    said = "Hola, soy Juan Quispe y siembro papa en Huancayo."
    advice = "Riega cada 7 a 10 días según la humedad del suelo."
    inference = FakeInference(lambda r: model_json(f"{said} {advice}"))
    conversation = make_conversation(inference=inference)
    assert conversation.handle(incoming(said)).reply.model_output["respuesta_chat"] == advice
    question = "¿Cuántas hectáreas siembras?"
    inference.respond = lambda r: model_json(question)
    out = conversation.handle(incoming("¿y luego?")).reply.model_output
    assert out["respuesta_chat"] == "Entendido."


def test_registration_completes_and_the_producer_becomes_active(make_conversation) -> None:
    register(
        make_conversation.database, {k: v for k, v in FULL_PROFILE.items() if k != "tipo_riego"}
    )
    producer = ProducerStore(make_conversation.database).get(PHONE)
    ProducerStore(make_conversation.database).update(producer.id, status="nuevo")  # type: ignore[union-attr]
    inference = FakeInference(
        lambda r: model_json("Perfecto, ya tengo tus datos.", role="registro")
    )
    conversation = make_conversation(inference=inference)
    conversation.handle(incoming("hola"))  # asks tipo_riego
    out = conversation.handle(incoming("por goteo")).reply.model_output
    assert producer_fields(make_conversation.database)["tipo_riego"] == "goteo"
    assert out["estado"]["campos_faltantes"] == []
    assert out["respuesta_chat"] == "Perfecto, ya tengo tus datos."
    assert ProducerStore(make_conversation.database).get(PHONE).status == "activo"  # type: ignore[union-attr]


def test_crear_alerta_records_an_alert_for_admins_and_tells_the_producer(make_conversation) -> None:
    register(make_conversation.database)
    alerta = {"nivel": "alta", "mensaje": "Posible rancha: revisa las hojas hoy."}
    inference = FakeInference(
        lambda r: model_json("Las manchas pueden ser rancha.", alerta=alerta, tema="plagas")
    )
    conversation = make_conversation(inference=inference)
    out = conversation.handle(incoming("mis hojas tienen manchas negras")).reply.model_output
    db = make_conversation.database
    assert count_alerts(db, source="model", level="alta", status="sent", delivery="chat") == 1
    # Already in the reply: the scheduler must never push it a second time.
    assert count_alerts(db, status="pending") == 0
    assert "⚠️ Posible rancha: revisa las hojas hoy." in out["respuesta_chat"]
    assert out["acciones"]["crear_alerta"] == alerta


def test_escalation_flags_the_producer_and_tells_them_a_person_follows_up(
    make_conversation,
) -> None:
    register(make_conversation.database)
    inference = FakeInference(lambda r: model_json("Entiendo.", escalar=True, respondida=False))
    conversation = make_conversation(inference=inference)
    out = conversation.handle(incoming("quiero hablar con una persona")).reply.model_output
    db = make_conversation.database
    assert ProducerStore(db).get(PHONE).needs_human  # type: ignore[union-attr]
    assert out["respuesta_chat"].endswith(ESCALATED)
    with db.tx() as conn:
        actions = conn.execute(sa.select(audit.c.action)).scalars().all()
    assert actions == ["escalar_a_humano"]


def test_history_is_stored_with_latency_and_token_counts(make_conversation) -> None:
    register(make_conversation.database)
    conversation = make_conversation()
    conversation.handle(incoming("¿Cuándo riego?"))
    producer = ProducerStore(make_conversation.database).get(PHONE)
    history = MessageStore(make_conversation.database).history(producer.id, limit=10)  # type: ignore[union-attr]
    inbound, reply = history.messages
    assert (inbound.direction, inbound.status, inbound.text) == ("in", "answered", "¿Cuándo riego?")
    assert reply.direction == "out" and reply.reply_to_id == inbound.id
    assert reply.latency_ms is not None and reply.latency_ms >= 0
    assert (reply.prompt_tokens, reply.completion_tokens) == (120, 30)
    assert reply.model_output["respuesta_chat"] == reply.text  # type: ignore[index]


def test_the_model_sees_profile_history_and_retrieved_knowledge(make_conversation) -> None:
    db = make_conversation.database
    KnowledgeStore(db).seed_if_empty(load_knowledge_seed())
    register(db)
    inference = FakeInference()
    conversation = make_conversation(inference=inference)
    conversation.handle(incoming("hola"))
    conversation.handle(incoming("¿Cuándo debo regar?"))
    request = inference.requests[-1]
    assert request.cache_key == PHONE
    assert request.schema is not None and "respuesta_chat" in request.schema["properties"]
    context = json.loads(request.messages[1]["content"].removeprefix("CONTEXTO:\n"))
    assert context["mensaje"] == "¿Cuándo debo regar?"
    assert context["productor"]["perfil"]["cultivo"] == "papa"
    assert next(h["texto"] for h in context["historial"]) == "hola"
    assert context["historial"][-1]["de"] == "agrochat"
    assert context["conocimiento"][0]["titulo"] == "Riego de papa: etapas críticas"
    assert context["hoy"] == "2026-03-10"


def test_same_gateway_message_id_gets_the_first_answer_without_a_second_model_call(
    make_conversation,
) -> None:
    register(make_conversation.database)
    inference = FakeInference()
    conversation = make_conversation(inference=inference)
    first = conversation.handle(incoming("¿Cuándo riego?", message_id="wamid.A"))
    again = conversation.handle(incoming("¿Cuándo riego?", message_id="wamid.A"))
    assert inference.calls == 1
    assert again.status == "replayed"
    assert again.reply.model_output == first.reply.model_output
    # A fresh conversation (after a passivation) replays it too.
    later = make_conversation(inference=inference).handle(
        incoming("¿Cuándo riego?", message_id="wamid.A")
    )
    assert later.reply.model_output == first.reply.model_output and inference.calls == 1


def test_overloaded_model_gets_a_holding_reply_and_the_message_is_answered_later(
    make_conversation,
) -> None:
    register(make_conversation.database)
    busy = {"on": True}

    def respond(request):
        if busy["on"]:
            return Overloaded("queue full")
        return model_json("Riega mañana temprano.")

    inference = FakeInference(respond)
    send = RecordingSend()
    conversation = make_conversation(inference=inference, send=send)
    held = conversation.handle(incoming("¿Cuándo riego?", message_id="wamid.1"))
    assert held.status == "deferred"
    assert held.reply.model_output["respuesta_chat"] == BUSY
    messages = MessageStore(make_conversation.database)
    inbound = messages.by_gateway_id("wamid.1")
    assert inbound is not None and inbound.status == "received"  # kept, not lost
    assert conversation.deferred == [inbound.id]

    # Still overloaded: a second message queues behind the first without another model call.
    calls = inference.calls
    second = conversation.handle(incoming("¿Y el abono?", message_id="wamid.2"))
    assert second.status == "deferred" and inference.calls == calls + 1  # only the retry of #1

    busy["on"] = False
    assert conversation.answer_deferred() == 2
    asked = [
        json.loads(r.messages[1]["content"].removeprefix("CONTEXTO:\n"))["mensaje"]
        for r in inference.requests[-2:]
    ]
    assert asked == ["¿Cuándo riego?", "¿Y el abono?"]  # in order
    assert messages.get(inbound.id).status == "answered"  # type: ignore[union-attr]
    # The caller already got the holding reply, so the answer is pushed through the outbox.
    assert [s.text for s in send.sent] == ["Riega mañana temprano.", "Riega mañana temprano."]
    assert OutboxStore(make_conversation.database).get(send.sent[0].outbox_id) is not None
    # And the same gateway id now replays the real answer, not the holding one.
    replay = conversation.handle(incoming("¿Cuándo riego?", message_id="wamid.1"))
    assert replay.reply.model_output["respuesta_chat"] == "Riega mañana temprano."


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (DeadlineExceeded("too slow"), TIMEOUT),
        (ModelUnavailable("no model"), UNAVAILABLE),
    ],
)
def test_model_failure_apologises_and_keeps_the_message_as_failed(
    make_conversation, error, text
) -> None:
    register(make_conversation.database)
    conversation = make_conversation(inference=FakeInference(lambda r: error))
    outcome = conversation.handle(incoming("¿Cuándo riego?", message_id="wamid.F"))
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.reply.model_output["respuesta_chat"] == text
    assert outcome.reply.model_output["estado"]["respondida"] is False
    inbound = MessageStore(make_conversation.database).by_gateway_id("wamid.F")
    assert inbound is not None and inbound.status == "failed"
    assert conversation.snapshot()["failures"] == 1


def test_expired_deadline_answers_without_calling_the_model(make_conversation) -> None:
    register(make_conversation.database)
    inference = FakeInference()
    conversation = make_conversation(inference=inference)
    outcome = conversation.handle(incoming("¿Cuándo riego?", timeout_s=-1))
    assert outcome.reply.model_output["respuesta_chat"] == TIMEOUT
    assert inference.calls == 0


def test_a_crash_is_answered_with_an_apology_and_recorded(make_conversation) -> None:
    register(make_conversation.database)
    conversation = make_conversation()
    message = incoming("¿Cuándo riego?", message_id="wamid.X")
    outcome = conversation.fail(message, RuntimeError("boom"))
    assert outcome.reply.model_output["respuesta_chat"] == CRASHED
    inbound = MessageStore(make_conversation.database).by_gateway_id("wamid.X")
    assert inbound is not None and inbound.status == "failed"


def test_gateway_messages_are_answered_through_the_outbox(make_conversation) -> None:
    register(make_conversation.database)
    send = RecordingSend()
    conversation = make_conversation(send=send)
    conversation.handle(incoming("¿Cuándo riego?", source="waha"))
    conversation.handle(incoming("¿Y mañana?", source="api"))
    assert len(send.sent) == 1  # the API caller delivers its own reply
    row = OutboxStore(make_conversation.database).get(send.sent[0].outbox_id)
    assert row is not None and row.phone == PHONE and row.reply_to_id is not None


def test_pushed_alert_goes_to_the_outbox_with_its_alert_id(make_conversation) -> None:
    db = make_conversation.database
    alert_id = AlertStore(db).create(
        phone=PHONE, message="Helada esta noche", level="alta", source="admin"
    )
    send = RecordingSend()
    conversation = make_conversation(send=send)
    outbox_id = conversation.push_alert(alert_id, "Helada esta noche")
    assert outbox_id is not None
    assert send.sent[0].alert_id == alert_id and send.sent[0].text == "Helada esta noche"
    assert OutboxStore(db).get(outbox_id).alert_id == alert_id  # type: ignore[union-attr]


def test_alert_and_escalation_need_the_producer_to_have_asked_for_them(make_conversation) -> None:
    register(make_conversation.database)
    alerta = {"nivel": "alta", "mensaje": "Plaga detectada"}
    inference = FakeInference(lambda r: model_json("¡Hola!", alerta=alerta, escalar=True))
    conversation = make_conversation(inference=inference)
    out = conversation.handle(incoming("Hola, me llamo Juan")).reply.model_output
    db = make_conversation.database
    assert count_alerts(db) == 0
    assert not ProducerStore(db).get(PHONE).needs_human  # type: ignore[union-attr]
    assert out["acciones"]["crear_alerta"] is None
    assert out["acciones"]["escalar_a_humano"] is False
    assert ESCALATED not in out["respuesta_chat"] and "⚠️" not in out["respuesta_chat"]


def test_a_registration_turn_and_a_replay_on_both_databases(database, config) -> None:
    from tests.session.conftest import ConversationFactory

    make = ConversationFactory(database, config)
    inference = FakeInference(
        lambda r: model_json("Anotado.", role="registro", formulario={"area_ha": "1,5 ha"})
    )
    conversation = make(inference=inference)
    conversation.handle(incoming("hola", message_id="m-1"))
    out = conversation.handle(incoming("1,5 ha y me llamo Ana", message_id="m-2"))
    again = make(inference=inference).handle(incoming("1,5 ha y me llamo Ana", message_id="m-2"))
    assert again.reply.model_output == out.reply.model_output
    assert inference.calls == 2
    producer = ProducerStore(database).get(PHONE)
    assert producer is not None
    fields = ProducerStore(database).fields(producer.id)
    assert fields["area_ha"] == "1.5"
    assert MessageStore(database).history(producer.id, limit=10).total == 4
