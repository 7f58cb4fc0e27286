"""Farmers speak to agrochat through WAHA: a voice note pushed on the fake WAHA's websocket,
its file served at WAHA's /api/files/ URL behind the key, the whole of agrochat in this process
on both databases, and a transcriber double in place of the Whisper model. Every wait is on
something the fake saw (a sendText), never a sleep."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agrochat import wording
from agrochat.errors import Overloaded
from tests.schema import messages, voice_notes
from tests.whatsapp._agrochat import Running, running_agrochat
from tests.whatsapp._transcriber import ScriptedTranscriber, note
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, chat_of

ROSA = "51987654321"
QUESTION = "¿cuándo riego mi papa?"


@pytest.fixture
def transcriber() -> ScriptedTranscriber:
    return ScriptedTranscriber()


@pytest.fixture
def settings() -> dict[str, object]:
    return {}


@pytest.fixture
def agrochat(
    tmp_path: Path,
    database_url: str,
    fake_waha: FakeWaha,
    transcriber: ScriptedTranscriber,
    settings: dict[str, object],
) -> Iterator[Running]:
    with running_agrochat(
        tmp_path,
        database_url,
        transcription=transcriber,
        whatsapp="waha",
        waha_url=fake_waha.url,
        waha_api_key=API_KEY,
        **settings,
    ) as running:
        assert fake_waha.wait_connected(timeout_s=10)
        yield running


def _texts_to(fake: FakeWaha, phone: str) -> list[str]:
    return [s["text"] for s in fake.sent_texts if s["chatId"] == chat_of(phone)]


def _inbound(agrochat: Running) -> list[sa.Row]:
    return agrochat.rows(
        sa.select(messages).where(messages.c.direction == "in").order_by(messages.c.id)
    )


def test_a_voice_note_is_fetched_with_the_key_heard_and_answered_like_text(
    agrochat: Running, fake_waha: FakeWaha, transcriber: ScriptedTranscriber
) -> None:
    audio = transcriber.teach(note("riego"), QUESTION, confidence=0.9)
    fake_waha.push_voice(ROSA, audio)
    assert fake_waha.wait_sent(1, timeout_s=20)
    [reply] = _texts_to(fake_waha, ROSA)
    assert "rieg" in reply.lower() and "Fuente:" in reply
    [download] = fake_waha.file_calls()
    assert download.key == API_KEY and download.status == 200
    [heard] = transcriber.calls
    assert heard.audio == audio and heard.language == "es"
    assert heard.deadline_s is not None and heard.deadline_s > 0
    [row] = _inbound(agrochat)
    assert row.media_type == "ptt" and row.text == QUESTION
    assert row.transcript_confidence == pytest.approx(0.9) and row.status == "answered"
    [kept] = agrochat.rows(sa.select(voice_notes))
    assert kept.message_id == row.id and bytes(kept.audio) == audio
    assert kept.mimetype == "audio/ogg"


def test_a_doubtful_transcript_is_asked_again_not_answered(
    agrochat: Running, fake_waha: FakeWaha, transcriber: ScriptedTranscriber
) -> None:
    audio = transcriber.teach(note("viento"), "cuando rie go la pa", confidence=0.2)
    fake_waha.push_voice(ROSA, audio)
    assert fake_waha.wait_sent(1, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.VOICE_UNCLEAR]
    [row] = _inbound(agrochat)
    assert row.text == "cuando rie go la pa"
    assert row.transcript_confidence == pytest.approx(0.2)


def test_a_corrupt_note_gets_a_polite_reply_is_stored_and_nothing_stops(
    agrochat: Running, fake_waha: FakeWaha, transcriber: ScriptedTranscriber
) -> None:
    fake_waha.push_voice(ROSA, b"\x00garbage, not an ogg")
    assert fake_waha.wait_sent(1, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.VOICE_UNREADABLE]
    fake_waha.push_message(ROSA, "gracias")
    assert fake_waha.wait_sent(2, timeout_s=20)
    assert _texts_to(fake_waha, ROSA)[1].startswith("¡De nada")
    rows = _inbound(agrochat)
    assert [(r.media_type, r.status) for r in rows] == [("ptt", "failed"), (None, "answered")]
    actors = agrochat.debug_actors()
    assert all(actors[a]["alive"] and actors[a]["restarts"] == 0 for a in ("whatsapp", "sessions"))
    assert actors["whatsapp"]["state"]["errors"] == 0


def test_a_file_that_is_no_audio_is_not_kept_nor_heard(
    agrochat: Running, fake_waha: FakeWaha, transcriber: ScriptedTranscriber
) -> None:
    fake_waha.push_voice(ROSA, b"%PDF-1.4", media_type="audio", mimetype="application/pdf")
    assert fake_waha.wait_sent(1, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.VOICE_UNSUPPORTED]
    assert transcriber.calls == []
    assert agrochat.rows(sa.select(voice_notes)) == []


@pytest.mark.parametrize("settings", [{"voice_max_bytes": 1024}])
def test_a_note_over_the_size_limit_is_refused_while_downloading(
    agrochat: Running, fake_waha: FakeWaha, transcriber: ScriptedTranscriber
) -> None:
    audio = transcriber.teach(note("x" * 4096), QUESTION)
    fake_waha.push_voice(ROSA, audio)
    assert fake_waha.wait_sent(1, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.VOICE_TOO_LONG]
    assert transcriber.calls == []
    assert agrochat.rows(sa.select(voice_notes)) == []
    [row] = _inbound(agrochat)
    assert row.status == "failed"


def test_a_note_too_long_for_the_transcriber_gets_a_polite_reply(
    agrochat: Running, fake_waha: FakeWaha, transcriber: ScriptedTranscriber
) -> None:
    from agrochat.errors import BadMedia

    audio = note("larga")
    transcriber.knows[audio] = BadMedia("too_long", "note of 300 s")
    fake_waha.push_voice(ROSA, audio)
    assert fake_waha.wait_sent(1, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.VOICE_TOO_LONG]


# The sweep hands an unanswered message over again once it is 2 x reply_timeout_s old; it
# runs every alert_tick_s.
@pytest.mark.parametrize("settings", [{"reply_timeout_s": 1.0, "alert_tick_s": 0.2}])
def test_a_failed_download_is_apologised_for_then_tried_again_and_answered(
    agrochat: Running, fake_waha: FakeWaha, transcriber: ScriptedTranscriber
) -> None:
    audio = transcriber.teach(note("riego-2"), QUESTION)
    fake_waha.media_error = 500
    fake_waha.push_voice(ROSA, audio)
    assert fake_waha.wait_sent(1, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.VOICE_RETRYING]
    [row] = _inbound(agrochat)
    assert row.status == "received"  # kept for the second try

    fake_waha.media_error = None
    assert fake_waha.wait_sent(2, timeout_s=20)
    second = _texts_to(fake_waha, ROSA)[1]
    assert "rieg" in second.lower() and "Fuente:" in second
    [row] = _inbound(agrochat)
    assert row.status == "answered" and row.text == QUESTION


@pytest.mark.parametrize("settings", [{"reply_timeout_s": 1.0, "alert_tick_s": 0.2}])
def test_a_transcriber_that_stays_busy_gets_one_apology_then_a_final_one(
    agrochat: Running, fake_waha: FakeWaha, transcriber: ScriptedTranscriber
) -> None:
    audio = note("ocupado")
    transcriber.knows[audio] = Overloaded("transcription queue full")
    fake_waha.push_voice(ROSA, audio)
    assert fake_waha.wait_sent(2, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.VOICE_RETRYING, wording.VOICE_NOT_RECEIVED]
    # Downloaded once: the second try heard the kept audio.
    assert len(fake_waha.file_calls()) == 1 and len(transcriber.calls) == 2
    [row] = _inbound(agrochat)
    assert row.status == "failed"


def test_without_a_transcriber_a_voice_note_gets_the_text_only_note(
    tmp_path: Path, database_url: str, fake_waha: FakeWaha
) -> None:
    with running_agrochat(
        tmp_path, database_url, whatsapp="waha", waha_url=fake_waha.url, waha_api_key=API_KEY
    ):
        assert fake_waha.wait_connected(timeout_s=10)
        fake_waha.push_voice(ROSA, note("sin-asr"))
        assert fake_waha.wait_sent(1, timeout_s=20)
    assert _texts_to(fake_waha, ROSA) == [wording.MEDIA]
    assert fake_waha.file_calls() == []
