"""Voice notes in the panel: the producer's conversation shows the transcript with a 🎤 and a
player, whose audio is served to logged-in admins only, for that producer only. A real server,
on both databases (the audio lives in the database)."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from agrochat.persistence import (
    Database,
    MessageStore,
    ProducerStore,
    VoiceNoteStore,
)
from tests.admin.conftest import (
    Browser,
    Panel,
    serving_panel,
)

ROSA, JUAN = "51987654321", "51912345678"
AUDIO = b"OggS\x00\x02" + bytes(range(256)) * 8


@pytest.fixture
def panel(database: Database) -> Iterator[Panel]:
    """The panel on both databases: the audio is stored in the database."""
    with serving_panel(database) as panel:
        yield panel


@pytest.fixture
def browser(panel: Panel) -> Iterator[Browser]:
    b = panel.login()
    try:
        yield b
    finally:
        b.close()


def _voice_note(
    db: Database, phone: str, text: str, confidence: float, *, audio: bytes | None = AUDIO
) -> tuple[int, int]:
    """(producer id, message id) of a heard voice note, its audio kept unless ``audio`` None."""
    producer, _ = ProducerStore(db).get_or_create(phone)
    messages = MessageStore(db)
    message = messages.add_inbound(
        producer.id,
        "",
        gateway_message_id=f"false_{phone}@c.us_3EB0{len(text)}",
        media_type="ptt",
        media_source=f"/api/files/default/false_{phone}@c.us_3EB0.oga",
        media_mimetype="audio/ogg; codecs=opus",
    )
    messages.set_transcript(message.id, text, confidence)
    if audio is not None:
        VoiceNoteStore(db).save(producer.id, message.id, audio, "audio/ogg")
    return producer.id, message.id


def test_the_audio_is_refused_without_a_login(panel: Panel) -> None:
    pid, mid = _voice_note(panel.db, ROSA, "¿cuándo riego mi papa?", 0.9)
    with panel.client() as anonymous:
        response = anonymous.get(f"/admin/producers/{pid}/voice/{mid}")
    assert response.status_code == 303
    assert "/admin/login?next=" in response.headers["location"]
    assert AUDIO not in response.content


def test_a_logged_in_admin_gets_the_audio_with_its_type(panel: Panel, browser: Browser) -> None:
    pid, mid = _voice_note(panel.db, ROSA, "¿cuándo riego mi papa?", 0.9)
    response = browser.get(f"/admin/producers/{pid}/voice/{mid}")
    assert response.status_code == 200
    assert response.content == AUDIO
    assert response.headers["content-type"] == "audio/ogg"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_another_producers_note_or_a_missing_one_is_not_found(
    panel: Panel, browser: Browser
) -> None:
    _, rosas = _voice_note(panel.db, ROSA, "¿cuándo riego mi papa?", 0.9)
    juan, _ = _voice_note(panel.db, JUAN, "¿y el maíz?", 0.8)
    assert browser.get(f"/admin/producers/{juan}/voice/{rosas}").status_code == 404
    assert browser.get(f"/admin/producers/{juan}/voice/99999").status_code == 404
    assert browser.get(f"/admin/producers/99999/voice/{rosas}").status_code == 404


def test_the_conversation_shows_the_transcript_with_a_mark_and_a_player(
    panel: Panel, browser: Browser
) -> None:
    pid, mid = _voice_note(panel.db, ROSA, "¿cuándo riego <b>mi</b> papa?", 0.87)
    _, unheard = _voice_note(panel.db, ROSA, "algo", 0.1, audio=None)
    page = browser.get(f"/admin/producers/{pid}")
    assert page.status_code == 200
    text = page.text
    assert "🎤" in text
    assert html.escape("¿cuándo riego <b>mi</b> papa?") in text and "<b>mi</b>" not in text
    assert "confianza 87" in text
    assert f'<audio controls preload="none" src="/admin/producers/{pid}/voice/{mid}">' in text
    # A note whose audio was never fetched has its mark but no player.
    assert f"/voice/{unheard}" not in text
    assert "media-src 'self'" in page.headers["content-security-policy"]
