"""The review queue (/admin/review): a reply flagged from the conversation appears; marking it
fine, sending the correct answer or turning the question into an entry takes it off, audited."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from agrochat.model_output import build_output
from agrochat.persistence import (
    Database,
    MessageStore,
    OutboxStore,
    ProducerStore,
    ReviewStatus,
    ReviewStore,
    StoredMessage,
)
from agrochat.phones import normalize_phone
from tests.admin.conftest import Browser, FakeSessions, Panel
from tests.schema import knowledge, outbox

PHONE = "51987654321"
QUESTION = 'Mi papa tiene <script>alert("x")</script> manchas & hojas "negras"'
ENTRY_LINK = re.compile(r'href="(/admin/knowledge/new\?[^"]+)"')


class OutboxSessions(FakeSessions):
    """The producer's session as far as an admin's reply goes: the message stored as the
    admin's and one outbox row to send it (Conversation.admin_reply, without the actor)."""

    def admin_reply(self, phone: str, text: str, *, author: str) -> dict[str, Any]:
        super().admin_reply(phone, text, author=author)
        producer = ProducerStore(self.db).get(normalize_phone(phone))
        assert producer is not None
        with self.db.tx():
            message = MessageStore(self.db).add_outbound(producer.id, text, author=author)
            row = OutboxStore(self.db).enqueue(phone, text, reply_to_id=message.id)
        return {"message_id": message.id, "outbox_ids": [row]}


def _conversation(db: Database) -> int:
    producers = ProducerStore(db)
    producer, _ = producers.get_or_create(PHONE)
    producers.set_fields(producer.id, {"nombre": "Rosa Quispe", "cultivo": "papa"}, source="model")
    producers.update(producer.id, name="Rosa Quispe", status="activo")
    return producer.id


def _turn(db: Database, producer_id: int, *, answered: bool = True) -> StoredMessage:
    store = MessageStore(db)
    inbound = store.add_inbound(producer_id, QUESTION)
    text = "Riega cada 5 días (INIA, 2019)." if answered else "No tengo información verificada."
    output = build_output(role="consulta", text=text, answered=answered)
    return store.record_reply(
        inbound.id, text, status="answered", role="consulta", model_output=output
    )


@pytest.fixture
def reply(panel: Panel) -> StoredMessage:
    return _turn(panel.db, _conversation(panel.db))


def _actions(panel: Panel) -> list[str]:
    return [row.action for row in panel.audit_rows() if row.action.startswith("review.")]


def test_a_reply_flagged_from_the_conversation_appears_in_the_queue(
    panel: Panel, browser: Browser, reply: StoredMessage
) -> None:
    assert "No hay respuestas para revisar." in browser.get("/admin/review").text

    page = browser.get(f"/admin/producers/{reply.producer_id}").text
    assert f'action="/admin/review/{reply.id}/flag"' in page
    assert f'action="/admin/review/{reply.reply_to_id}/flag"' not in page  # the producer's
    response = browser.post(
        f"/admin/review/{reply.id}/flag", {"volver": f"/admin/producers/{reply.producer_id}"}
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/admin/producers/{reply.producer_id}?ok=marcada")

    queue = browser.get("/admin/review").text
    assert "Marcada para revisar por ana" in queue
    assert html.escape(QUESTION) in queue and "<script>alert" not in queue
    assert "Riega cada 5 días (INIA, 2019)." in queue
    assert f'href="/admin/producers/{reply.producer_id}"' in queue
    assert "Rosa Quispe" in queue and "papa" in queue
    assert _actions(panel) == ["review.flag"]


def test_each_reason_is_named_in_spanish(panel: Panel, browser: Browser) -> None:
    pid = _conversation(panel.db)
    unknown = _turn(panel.db, pid, answered=False)
    liked = _turn(panel.db, pid)
    row = OutboxStore(panel.db).enqueue(PHONE, liked.text, reply_to_id=liked.id)
    assert row is not None
    OutboxStore(panel.db).claim_one(row, 60)
    OutboxStore(panel.db).mark_sent(row, "wamid.R1")
    MessageStore(panel.db).record_reaction(pid, "wamid.R1", "👎")

    queue = browser.get("/admin/review").text
    assert "No tenía una respuesta verificada" in queue
    assert "El productor reaccionó con 👎" in queue
    # The next question came right after both replies.
    assert queue.count("El productor volvió a preguntar enseguida") == 1
    assert queue.index(f"respuesta-{unknown.id}") < queue.index(f"respuesta-{liked.id}")


def test_flagging_anything_but_an_assistant_reply_is_not_found(
    panel: Panel, browser: Browser, reply: StoredMessage
) -> None:
    browser.get("/admin/review")
    assert browser.post(f"/admin/review/{reply.reply_to_id}/flag", {}).status_code == 404
    assert browser.post("/admin/review/99999999999/flag", {}).status_code == 404
    assert _actions(panel) == []


def test_a_flag_without_the_forms_token_is_refused(
    panel: Panel, browser: Browser, reply: StoredMessage
) -> None:
    response = browser.post(f"/admin/review/{reply.id}/flag", {}, csrf=False)
    assert response.status_code == 403
    assert ReviewStore(panel.db).pending()[1] == 0


def test_marking_a_reply_fine_takes_it_off_the_queue_and_audits_it(
    panel: Panel, browser: Browser, reply: StoredMessage
) -> None:
    ReviewStore(panel.db).flag(reply.id, by="admin:luis")
    browser.get("/admin/review")
    response = browser.post(f"/admin/review/{reply.id}/fine", {"volver": "/admin/review"})
    assert response.status_code == 303
    assert response.headers["location"].endswith("/admin/review?ok=revision_bien")

    assert "No hay respuestas para revisar." in browser.get("/admin/review").text
    item = ReviewStore(panel.db).get(reply.id)
    assert item is not None and item.status is ReviewStatus.FINE
    assert _actions(panel) == ["review.fine"]
    audit_row = panel.audit_rows()[-1]
    assert (audit_row.actor, audit_row.target) == ("admin:ana", f"message:{reply.id}")

    # The same form sent again does nothing twice.
    again = browser.post(f"/admin/review/{reply.id}/fine", {"volver": "/admin/review"})
    assert again.headers["location"].endswith("/admin/review?err=ya_revisada")
    assert _actions(panel) == ["review.fine"]


def test_the_correct_answer_goes_out_through_the_outbox(
    panel: Panel, browser: Browser, reply: StoredMessage
) -> None:
    panel.context.sessions = OutboxSessions(panel.db)  # type: ignore[assignment]
    ReviewStore(panel.db).flag(reply.id, by="admin:ana")
    browser.get("/admin/review")
    answer = "Para la rancha, retira las hojas con manchas y consulta al técnico de SENASA."
    response = browser.post(f"/admin/review/{reply.id}/answer", {"texto": f"  {answer} "})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.endswith(f"/admin/review?hecha={reply.id}&ok=revision_respuesta")

    assert panel.count(outbox, outbox.c.phone == PHONE, outbox.c.text == answer) == 1
    item = ReviewStore(panel.db).get(reply.id)
    assert item is not None and item.status is ReviewStatus.ANSWERED
    assert item.answer == answer
    page = browser.get(location).text
    assert "No hay respuestas para revisar." in page
    # What was just sent can become an entry, the answer already written in.
    link = html.unescape(ENTRY_LINK.search(page).group(1))  # type: ignore[union-attr]
    assert answer in browser.get(link).text
    assert _actions(panel) == ["review.answered"]


def test_without_a_gateway_the_correct_answer_is_refused_and_nothing_changes(
    panel: Panel, browser: Browser, reply: StoredMessage
) -> None:
    panel.context.delivers = False
    ReviewStore(panel.db).flag(reply.id, by="admin:ana")
    browser.get("/admin/review")
    response = browser.post(f"/admin/review/{reply.id}/answer", {"texto": "Riega menos."})
    assert response.status_code == 409
    assert "no puede enviar mensajes desde el panel" in response.text
    assert panel.sessions.replies == []
    assert panel.count(outbox) == 0
    assert ReviewStore(panel.db).pending()[1] == 1


def test_an_empty_answer_is_refused_with_the_reason(
    panel: Panel, browser: Browser, reply: StoredMessage
) -> None:
    ReviewStore(panel.db).flag(reply.id, by="admin:ana")
    browser.get("/admin/review")
    response = browser.post(f"/admin/review/{reply.id}/answer", {"texto": "   "})
    assert response.status_code == 422 and "Escribe la respuesta correcta." in response.text
    assert panel.sessions.replies == []
    assert ReviewStore(panel.db).pending()[1] == 1


def test_a_new_entry_starts_from_the_question_and_saving_it_takes_the_reply_off(
    panel: Panel, browser: Browser, reply: StoredMessage
) -> None:
    ReviewStore(panel.db).flag(reply.id, by="admin:ana")
    queue = browser.get("/admin/review").text
    link = html.unescape(ENTRY_LINK.search(queue).group(1))  # type: ignore[union-attr]

    form = browser.get(link).text
    assert f'value="{html.escape(QUESTION)}"' in form  # the title, escaped
    assert "<script>alert" not in form
    assert 'name="cultivo" value="papa"' in form
    assert f'name="revision" value="{reply.id}"' in form

    response = browser.post(
        "/admin/knowledge",
        {
            "titulo": "Rancha de la papa: manchas negras en las hojas",
            "respuesta": "Retira y entierra las hojas con manchas; no riegues por aspersión.",
            "texto": "La rancha (Phytophthora infestans) se propaga con la humedad de las hojas.",
            "cultivo": "papa",
            "tema": "plagas",
            "fuente": "INIA",
            "fuente_titulo": "Manejo de la rancha de la papa",
            "revision": str(reply.id),
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith("/admin/review?ok=revision_consejo")
    assert panel.count(knowledge, knowledge.c.title.startswith("Rancha de la papa")) == 1
    item = ReviewStore(panel.db).get(reply.id)
    assert item is not None and item.status is ReviewStatus.ENTRY
    assert _actions(panel) == ["review.entry"]
    assert "No hay respuestas para revisar." in browser.get("/admin/review").text


def test_a_link_with_a_bad_reply_id_is_just_a_new_entry_or_the_queue(
    panel: Panel, browser: Browser
) -> None:
    for bad in ("abc", "0", "-1", "²", "9" * 5000):
        form = browser.get("/admin/knowledge/new", params={"titulo": "Helada", "revision": bad})
        assert form.status_code == 200
        assert 'value="Helada"' in form.text and 'name="revision"' not in form.text
    queue = browser.get("/admin/review", params={"hecha": "9" * 5000})
    assert queue.status_code == 200
