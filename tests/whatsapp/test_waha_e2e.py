"""Farmers write to agrochat's own number through WAHA: the fake WAHA's websocket and HTTP API
on 127.0.0.1, the whole of agrochat in this process (real sessions, database, waitress), on both
databases. Every wait is on something the fake saw (a sendText, a connection), never a sleep."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agrochat import wording
from agrochat.persistence import AdminStore, ProducerStore
from tests.admin.conftest import ADMIN, PASSWORD, Browser
from tests.schema import messages, producers
from tests.whatsapp._agrochat import Running, eventually, running_agrochat
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, chat_of, running_fake_waha

ROSA = "51987654321"
JUAN = "51912345678"
GROUP = "120363041234567890@g.us"


@pytest.fixture
def agrochat(tmp_path: Path, database_url: str, fake_waha: FakeWaha) -> Iterator[Running]:
    with running_agrochat(
        tmp_path,
        database_url,
        whatsapp="waha",
        waha_url=fake_waha.url,
        waha_api_key=API_KEY,
    ) as running:
        assert fake_waha.wait_connected(timeout_s=10)
        yield running


def _texts_to(fake: FakeWaha, phone: str) -> list[str]:
    return [s["text"] for s in fake.sent_texts if s["chatId"] == chat_of(phone)]


def test_a_farmers_message_is_answered_once_and_redeliveries_own_and_group_are_not(
    agrochat: Running, fake_waha: FakeWaha
) -> None:
    envelope = fake_waha.push_message(ROSA, "¿Cómo controlo la rancha en mi papa?")
    assert fake_waha.wait_sent(1, timeout_s=20)
    [reply] = fake_waha.sent_texts
    assert reply["chatId"] == chat_of(ROSA) and reply["session"] == "default"
    assert "rancha" in reply["text"].lower() and "Fuente:" in reply["text"]
    # Read and "escribiendo…" before the answer, which ends the typing.
    assert [s["chatId"] for s in fake_waha.seen] == [chat_of(ROSA)]
    assert fake_waha.typing == [("start", chat_of(ROSA)), ("stop", chat_of(ROSA))]

    fake_waha.redeliver(envelope)
    fake_waha.push_message(ROSA, "nota para mí", from_me=True)
    fake_waha.push_message(GROUP, "¿alguien sabe cuándo cosechar?")
    # Events are handled in order: once the next message's answer is out, the three above
    # have been dealt with.
    fake_waha.push_message(ROSA, "gracias")
    assert fake_waha.wait_sent(2, timeout_s=20)
    texts = [s["text"] for s in fake_waha.sent_texts]
    assert len(texts) == 2 and texts[0] == reply["text"]
    assert texts[1].startswith("¡De nada")
    inbound = agrochat.rows(sa.select(messages.c.text).where(messages.c.direction == "in"))
    assert sorted(r.text for r in inbound) == ["gracias", "¿Cómo controlo la rancha en mi papa?"]
    assert [r.phone for r in agrochat.rows(sa.select(producers.c.phone))] == [ROSA]


def test_messages_written_while_the_socket_was_down_are_caught_up_once(
    agrochat: Running, fake_waha: FakeWaha
) -> None:
    fake_waha.push_message(ROSA, "hola")
    assert fake_waha.wait_sent(1, timeout_s=20)
    assert fake_waha.drop_socket() == 1
    # Written while nobody listens: WAHA keeps them in the chats only.
    for phone, text in ((ROSA, "¿cuándo cosecho mi papa?"), (JUAN, "¿cómo riego el maíz?")):
        envelope = fake_waha.push_message(phone, text)
        assert (envelope, 0) in fake_waha.pushed
    assert fake_waha.wait_connected(timeout_s=15)
    assert fake_waha.wait_sent(3, timeout_s=20)
    assert len(_texts_to(fake_waha, ROSA)) == 2 and len(_texts_to(fake_waha, JUAN)) == 1
    assert "cosech" in _texts_to(fake_waha, ROSA)[1].lower()

    # Another gap: the catch-up finds the same messages again and answers nothing twice.
    fake_waha.drop_socket()
    assert fake_waha.wait_connected(timeout_s=15)
    fake_waha.push_message(JUAN, "gracias")
    assert fake_waha.wait_sent(4, timeout_s=20)
    assert len(_texts_to(fake_waha, ROSA)) == 2 and len(_texts_to(fake_waha, JUAN)) == 2


def test_a_photo_gets_the_text_only_note(agrochat: Running, fake_waha: FakeWaha) -> None:
    fake_waha.push_message(ROSA, "mira mi papa", media_type="image")
    assert fake_waha.wait_sent(1, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.MEDIA]


def test_health_reports_the_session_and_the_panel_shows_the_qr_while_scanning(
    agrochat: Running, fake_waha: FakeWaha
) -> None:
    assert eventually(lambda: agrochat.health()["gateway"] == "waha default: working")
    fake_waha.set_status("SCAN_QR_CODE")
    assert eventually(lambda: agrochat.health()["gateway"] == "waha default: scan_qr_code")
    AdminStore(agrochat.db).set_password(ADMIN, PASSWORD)
    browser = Browser(agrochat.client)
    browser.login(ADMIN, PASSWORD)
    page = browser.get("/admin/whatsapp")
    assert page.status_code == 200 and "Esperando que se vincule un teléfono" in page.text
    assert 'http-equiv="refresh"' in page.text
    qr = browser.get("/admin/whatsapp/default/qr")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    assert qr.content.startswith(b"\x89PNG")
    fake_waha.set_status("WORKING")
    assert eventually(lambda: agrochat.health()["gateway"] == "waha default: working")
    assert browser.get("/admin/whatsapp/default/qr").status_code == 404


def test_an_admin_takes_over_replies_and_hands_back(agrochat: Running, fake_waha: FakeWaha) -> None:
    fake_waha.push_message(ROSA, "¿cómo controlo la rancha en mi papa?")
    assert fake_waha.wait_sent(1, timeout_s=20)
    answer_id = fake_waha.sent_ids(ROSA)[-1]
    AdminStore(agrochat.db).set_password(ADMIN, PASSWORD)
    browser = Browser(agrochat.client)
    browser.login(ADMIN, PASSWORD)
    producer = ProducerStore(agrochat.db).get(ROSA)
    assert producer is not None
    page = f"/admin/producers/{producer.id}"

    browser.get(page)
    sent = browser.post(f"{page}/reply", {"texto": "Hola Rosa, soy Ana del equipo técnico."})
    assert sent.status_code == 303, sent.text
    assert fake_waha.wait_sent(2, timeout_s=20)
    assert _texts_to(fake_waha, ROSA)[-1] == "Hola Rosa, soy Ana del equipo técnico."
    admin_message_id = fake_waha.sent_ids(ROSA)[-1]
    assert "Una persona del equipo atiende esta conversación" in browser.get(page).text

    # Rosa writes while Ana has the conversation: the assistant stays quiet. Her receipts and
    # her 👍 on the first answer are recorded.
    fake_waha.push_message(ROSA, "¿y cuándo cosecho?")
    fake_waha.push_ack(admin_message_id, ROSA, ack=3)
    fake_waha.push_reaction(ROSA, answer_id, "👍")
    browser.get(page)
    assert browser.post(f"{page}/handback", {}).status_code == 303
    fake_waha.push_message(ROSA, "¿cómo riego mi papa?")
    assert fake_waha.wait_sent(3, timeout_s=20)
    texts = _texts_to(fake_waha, ROSA)
    assert len(texts) == 3 and "rieg" in texts[2].lower()
    held = agrochat.rows(sa.select(messages.c.text).where(messages.c.status == "held"))
    assert [r.text for r in held] == ["¿y cuándo cosecho?"]
    html = browser.get(page).text
    assert "leído" in html and "👍" in html and "Ana del equipo" in html
    assert "👍 1" in browser.get("/admin").text


def test_a_bad_key_is_named_in_health_within_seconds_and_retried_slowly(
    tmp_path: Path, fake_waha: FakeWaha
) -> None:
    with running_agrochat(
        tmp_path, whatsapp="waha", waha_url=fake_waha.url, waha_api_key="not-the-key"
    ) as running:
        health = eventually(
            lambda: (h := running.health())["gateway"] == "waha default: bad_api_key" and h
        )
        assert health and "gateway: waha default: bad_api_key" in health["reasons"]
        stream = running.debug_actors()["whatsapp"]["state"]["streams"]["default"]
        assert stream["state"] == "bad_api_key" and stream["retry_in_s"] >= 30
        # Not a storm: no second attempt while the slow retry waits.
        assert not fake_waha.wait_ws_attempts(2, timeout_s=2)
        assert fake_waha.ws_refused == 1


def test_each_farmer_is_answered_from_the_number_they_wrote_to(tmp_path: Path) -> None:
    with (
        running_fake_waha(sessions=("norte", "sur")) as fake,
        running_agrochat(
            tmp_path,
            whatsapp="waha",
            waha_url=fake.url,
            waha_api_key=API_KEY,
            waha_session="norte,sur",
        ) as running,
    ):
        assert fake.wait_connected(2, timeout_s=10)
        fake.push_message(ROSA, "hola", session="norte")
        fake.push_message(JUAN, "hola", session="sur")
        assert fake.wait_sent(2, timeout_s=20)
        by_chat = {s["chatId"]: s["session"] for s in fake.sent_texts}
        assert by_chat == {chat_of(ROSA): "norte", chat_of(JUAN): "sur"}
        assert eventually(
            lambda: running.health()["gateway"] == "waha norte: working; waha sur: working"
        )
