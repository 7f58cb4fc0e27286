"""The panel's WhatsApp parts: replying to a producer as a person of the team, taking and handing
back a conversation, delivery and reactions in the conversation, the numbers' page."""

from __future__ import annotations

import datetime as dt

from agrochat.actors.whatsapp import GatewayState, StreamStatus
from agrochat.persistence import MessageStore, OutboxStore, ProducerStore, utcnow
from tests.admin.conftest import Browser, Panel

PHONE = "51987654321"


def _producer(panel: Panel) -> int:
    producer, _ = ProducerStore(panel.db).get_or_create(PHONE)
    return producer.id


def test_an_admin_reply_goes_through_the_producers_session(panel: Panel, browser: Browser) -> None:
    pid = _producer(panel)
    browser.get(f"/admin/producers/{pid}")
    response = browser.post(f"/admin/producers/{pid}/reply", {"texto": "  Te llamo hoy.  "})
    assert response.status_code == 303
    assert panel.sessions.replies == [(PHONE, "Te llamo hoy.", "admin:ana")]
    page = browser.get(f"/admin/producers/{pid}").text
    assert "Una persona del equipo atiende esta conversación" in page and "(ana)" in page


def test_an_empty_reply_is_refused_and_nothing_is_sent(panel: Panel, browser: Browser) -> None:
    pid = _producer(panel)
    browser.get(f"/admin/producers/{pid}")
    response = browser.post(f"/admin/producers/{pid}/reply", {"texto": "   "})
    assert response.status_code == 422 and "Escribe el mensaje." in response.text
    assert panel.sessions.replies == []


def test_without_a_gateway_of_our_own_the_panel_cannot_send(panel: Panel, browser: Browser) -> None:
    panel.context.delivers = False
    pid = _producer(panel)
    page = browser.get(f"/admin/producers/{pid}")
    assert "Responder como persona del equipo" not in page.text
    response = browser.post(f"/admin/producers/{pid}/reply", {"texto": "hola"})
    assert response.status_code == 409 and "AGROCHAT_WHATSAPP=none" in response.text
    assert panel.sessions.replies == []


def test_taking_and_handing_back_a_conversation(panel: Panel, browser: Browser) -> None:
    pid = _producer(panel)
    ProducerStore(panel.db).update(pid, needs_human=True)
    page = browser.get(f"/admin/producers/{pid}").text
    assert "Tomar la conversación" in page
    assert browser.post(f"/admin/producers/{pid}/takeover", {}).status_code == 303
    producer = ProducerStore(panel.db).get_by_id(pid)
    assert producer is not None and producer.taken_over
    assert "Devolver al asistente" in browser.get(f"/admin/producers/{pid}").text
    assert browser.post(f"/admin/producers/{pid}/handback", {}).status_code == 303
    producer = ProducerStore(panel.db).get_by_id(pid)
    assert producer is not None and not producer.taken_over


def test_each_reply_shows_how_far_it_got_and_the_producers_reaction(
    panel: Panel, browser: Browser
) -> None:
    pid = _producer(panel)
    messages, outbox = MessageStore(panel.db), OutboxStore(panel.db)
    inbound = messages.add_inbound(pid, "¿cuándo riego?")
    reply = messages.record_reply(
        inbound.id, "Riega cada 7 días.", producer_id=pid, status="answered", role="consulta"
    )
    row = outbox.enqueue(PHONE, reply.text, reply_to_id=reply.id)
    outbox.claim_one(row, 60)
    outbox.mark_sent(row, "wamid.R1")
    outbox.record_delivery("wamid.R1", "delivered")
    messages.record_reaction(pid, "wamid.R1", "👎")
    page = browser.get(f"/admin/producers/{pid}").text
    assert "entregado" in page and "👎" in page
    dashboard = browser.get("/admin").text
    assert "👍 0 · 👎 1" in dashboard


def test_reactions_older_than_a_week_are_not_counted(panel: Panel, browser: Browser) -> None:
    pid = _producer(panel)
    messages, outbox = MessageStore(panel.db), OutboxStore(panel.db)
    inbound = messages.add_inbound(pid, "hola")
    reply = messages.record_reply(inbound.id, "¡Hola!", producer_id=pid, status="answered")
    row = outbox.enqueue(PHONE, reply.text, reply_to_id=reply.id)
    outbox.claim_one(row, 60)
    outbox.mark_sent(row, "wamid.R2")
    messages.record_reaction(pid, "wamid.R2", "👍", now=utcnow() - dt.timedelta(days=8))
    assert "👍 0 · 👎 0" in browser.get("/admin").text


def test_the_whatsapp_page_names_a_refused_key_in_red(panel: Panel, browser: Browser) -> None:
    state = GatewayState([("default", "waha")])
    state.stream_changed(
        StreamStatus(
            session="default",
            state="bad_api_key",
            since=0.0,
            detail="WAHA closed the websocket with 1008 (Unauthorized)",
            attempts=1,
            connects=0,
            failures=1,
            retry_in_s=60.0,
            events=0,
            callback_errors=0,
        )
    )
    panel.context.gateway_state = state
    page = browser.get("/admin/whatsapp")
    assert page.status_code == 200
    assert "WAHA rechaza la clave (AGROCHAT_WAHA_API_KEY)" in page.text
    assert "badge-bad" in page.text and "1008 (Unauthorized)" in page.text


def test_the_whatsapp_page_without_a_gateway_explains_the_bridge_mode(
    panel: Panel, browser: Browser
) -> None:
    panel.context.config = panel.context.config.__class__(whatsapp="none")
    page = browser.get("/admin/whatsapp")
    assert page.status_code == 200 and "AGROCHAT_WHATSAPP=none" in page.text
    assert browser.get("/admin/whatsapp/default/qr").status_code == 404
