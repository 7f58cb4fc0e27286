"""A farmer's voice note heard by the real speech model: espeak-ng says a question, it is encoded
to Opus in OGG as WhatsApp sends it, pushed on the fake WAHA's websocket with its file behind
WAHA's /api/files/ URL, and the whole of agrochat (the TranscriptionActor with Whisper base
included) answers it. The wait is on the fake's sendText, never a sleep."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from agrochat.actors.transcription import assemble_whisper_model
from agrochat.actors.transcription.testing import ogg_opus, speak
from agrochat.text import fold
from tests.schema import messages
from tests.transcription.conftest import needs_espeak
from tests.whatsapp._agrochat import running_agrochat
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, chat_of

__all__ = ["needs_espeak"]  # a fixture, used by name

ROSA = "51987654321"


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    """Whisper base assembled once into var/test-asr/ (kept between runs, as the tests of the
    transcription package keep it)."""
    return assemble_whisper_model(Path(__file__).resolve().parents[2] / "var" / "test-asr")


@pytest.fixture
def heard_note(needs_espeak: None) -> bytes:
    return ogg_opus(speak("Buenos días. Quiero saber cuándo debo regar mi papa."))


def test_a_spoken_question_is_heard_by_the_real_model_and_answered_with_vetted_advice(
    tmp_path: Path, fake_waha: FakeWaha, whisper_dir: Path, heard_note: bytes
) -> None:
    with running_agrochat(
        tmp_path,
        whatsapp="waha",
        waha_url=fake_waha.url,
        waha_api_key=API_KEY,
        asr=True,
        asr_model_path=str(whisper_dir),
    ) as agrochat:
        assert fake_waha.wait_connected(timeout_s=10)
        fake_waha.push_voice(ROSA, heard_note)
        assert fake_waha.wait_sent(1, timeout_s=120)
        replies = [s["text"] for s in fake_waha.sent_texts if s["chatId"] == chat_of(ROSA)]
        [note] = agrochat.rows(sa.select(messages).where(messages.c.direction == "in"))
    # What was said is what is stored, and the answer is the vetted advice on irrigation.
    assert note.media_type == "ptt"
    heard = fold(note.text).split()
    assert "regar" in heard and any(word.startswith("papa") for word in heard), note.text
    assert note.transcript_confidence is not None and note.transcript_confidence >= 0.39
    assert any("rieg" in reply.lower() and "Fuente:" in reply for reply in replies), replies
