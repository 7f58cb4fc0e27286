"""Voice notes through the Cloud API: Meta's signed webhook names the audio's media id; agrochat
asks the (fake) Graph API for its URL and downloads it, both with the bearer token, hears it
(transcriber double) and answers through the Graph API. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agrochat import wording
from tests.schema import messages, voice_notes
from tests.whatsapp._agrochat import Running, running_agrochat
from tests.whatsapp._transcriber import ScriptedTranscriber, note
from tests.whatsapp.fake_graph import (
    API_VERSION,
    PHONE_NUMBER_ID,
    TOKEN,
    FakeGraph,
    audio_webhook,
    signed_webhook,
)

APP_SECRET = "cloud-app-secret-0001"
ROSA = "51987654321"


@pytest.fixture
def transcriber() -> ScriptedTranscriber:
    return ScriptedTranscriber()


@pytest.fixture
def agrochat(
    tmp_path: Path, database_url: str, fake_graph: FakeGraph, transcriber: ScriptedTranscriber
) -> Iterator[Running]:
    with running_agrochat(
        tmp_path,
        database_url,
        transcription=transcriber,
        whatsapp="cloud",
        cloud_graph_url=fake_graph.url,
        cloud_api_version=API_VERSION,
        cloud_token=TOKEN,
        cloud_phone_id=PHONE_NUMBER_ID,
        cloud_app_secret=APP_SECRET,
        cloud_verify_token="cloud-verify-token-0001",
    ) as running:
        yield running


def _post(agrochat: Running, payload: dict) -> int:
    signed = signed_webhook(payload, APP_SECRET)
    response = agrochat.client.post(
        "/webhooks/whatsapp", content=signed.body, headers={**signed.headers, "Authorization": ""}
    )
    return response.status_code


def _bodies(fake: FakeGraph) -> list[str]:
    return [s["text"]["body"] for s in fake.sends]


def test_an_audio_message_is_fetched_by_media_id_with_the_token_heard_and_answered(
    agrochat: Running, fake_graph: FakeGraph, transcriber: ScriptedTranscriber
) -> None:
    audio = transcriber.teach(note("cloud-riego"), "¿cuándo riego mi papa?")
    media_id = fake_graph.add_media(audio, "audio/ogg")
    assert _post(agrochat, audio_webhook(ROSA, media_id)) == 200
    assert fake_graph.wait_sends(1, timeout_s=20)
    [reply] = _bodies(fake_graph)
    assert "rieg" in reply.lower() and "Fuente:" in reply
    lookup, download = fake_graph.media_requests()
    assert lookup.path == f"/{API_VERSION}/{media_id}" and lookup.status == 200
    assert download.path == "/whatsapp_business/attachments/" and download.status == 200
    assert lookup.authorization == download.authorization == f"Bearer {TOKEN}"
    assert [c.audio for c in transcriber.calls] == [audio]
    [row] = agrochat.rows(sa.select(messages).where(messages.c.direction == "in"))
    assert row.media_type == "audio" and row.media_source == media_id
    assert row.text == "¿cuándo riego mi papa?" and row.status == "answered"
    [kept] = agrochat.rows(sa.select(voice_notes))
    assert bytes(kept.audio) == audio and kept.mimetype == "audio/ogg"


def test_media_the_graph_api_no_longer_has_gets_a_polite_reply(
    agrochat: Running, fake_graph: FakeGraph, transcriber: ScriptedTranscriber
) -> None:
    assert _post(agrochat, audio_webhook(ROSA, "999999")) == 200
    assert fake_graph.wait_sends(1, timeout_s=20)
    assert _bodies(fake_graph) == [wording.VOICE_NOT_RECEIVED]
    assert transcriber.calls == []
    [row] = agrochat.rows(sa.select(messages).where(messages.c.direction == "in"))
    assert row.status == "failed"
