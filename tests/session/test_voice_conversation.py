"""A producer's voice notes in their Conversation: heard (a transcriber double, a double of the
gateway's files), answered in order with their written messages, and the ones left unanswered
by a stop heard on the next activation rather than answered from their empty text."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from agrochat import wording
from agrochat.actors.session import Status, VoiceNotes
from agrochat.errors import MediaUnavailable
from agrochat.persistence import MessageStore, ProducerStore, VoiceNoteStore
from tests.session.conftest import PHONE, RecordingSend, incoming
from tests.session.test_conversation import PROFILE
from tests.whatsapp._transcriber import ScriptedTranscriber, note


@dataclass(frozen=True)
class File:
    content: bytes
    mimetype: str


@dataclass
class GatewayFiles:
    """The gateways' files by source, as ``Channels.download`` gives them."""

    files: dict[str, File | Exception] = field(default_factory=dict)
    calls: list[tuple[str | None, str]] = field(default_factory=list)

    def download(self, channel: str | None, source: str, *, max_bytes: int) -> File:
        self.calls.append((channel, source))
        found = self.files.get(source)
        if found is None:
            raise MediaUnavailable("no such file", retryable=False)
        if isinstance(found, Exception):
            raise found
        return found


@pytest.fixture
def registered(make_conversation):
    producers = ProducerStore(make_conversation.database)
    producer, _ = producers.get_or_create(PHONE)
    producers.set_fields(producer.id, PROFILE, source="api")
    producers.update(producer.id, name="Rosa Quispe", status="activo", channel="default")
    return make_conversation


def _voice_stored_by_inbox(db, gateway_id: str, source: str) -> int:
    producer = ProducerStore(db).get(PHONE)
    assert producer is not None
    return (
        MessageStore(db)
        .add_inbound(
            producer.id,
            "",
            gateway_message_id=gateway_id,
            media_type="ptt",
            media_source=source,
            media_mimetype="audio/ogg; codecs=opus",
        )
        .id
    )


def test_a_voice_note_left_unanswered_is_heard_first_on_the_next_activation(registered) -> None:
    db = registered.database
    transcriber = ScriptedTranscriber()
    audio = transcriber.teach(note("riego"), "¿cuándo riego mi papa?")
    files = GatewayFiles({"/api/files/default/a.oga": File(audio, "audio/ogg")})
    voice = VoiceNotes(db, media=files, transcriber=transcriber, max_bytes=1 << 20)
    # Stored by the inbox, then agrochat stopped before the session heard it.
    voice_id = _voice_stored_by_inbox(db, "false_a", "/api/files/default/a.oga")
    MessageStore(db).add_inbound(
        ProducerStore(db).get(PHONE).id, "gracias", gateway_message_id="false_b"
    )
    send = RecordingSend()
    outcome = registered(send=send, voice=voice).handle(
        incoming("gracias", message_id="false_b", source="waha")
    )
    assert outcome.status is Status.ANSWERED
    assert files.calls == [("default", "/api/files/default/a.oga")]
    first, second = (s.text for s in send.sent)
    assert "rieg" in first.lower() and "Fuente:" in first
    assert second.startswith("¡De nada")
    heard = MessageStore(db).get(voice_id)
    assert heard is not None and heard.text == "¿cuándo riego mi papa?"
    assert heard.status == "answered" and heard.transcript_confidence == pytest.approx(0.92)
    assert VoiceNoteStore(db).get(heard.producer_id, voice_id) is not None


def test_without_a_transcriber_a_voice_note_gets_the_text_only_note(registered) -> None:
    db = registered.database
    _voice_stored_by_inbox(db, "false_c", "/api/files/default/c.oga")
    send = RecordingSend()
    outcome = registered(send=send).handle(incoming("", message_id="false_c", source="waha"))
    assert outcome.status is Status.ANSWERED
    assert [s.text for s in send.sent] == [wording.MEDIA]


def test_a_gateway_that_is_down_gets_one_apology_and_the_note_waits_for_a_second_try(
    registered,
) -> None:
    db = registered.database
    transcriber = ScriptedTranscriber()
    audio = transcriber.teach(note("riego-3"), "¿cuándo riego mi papa?")
    files = GatewayFiles(
        {"/api/files/default/d.oga": MediaUnavailable("WAHA error 502", retryable=True)}
    )
    voice = VoiceNotes(db, media=files, transcriber=transcriber, max_bytes=1 << 20)
    voice_id = _voice_stored_by_inbox(db, "false_d", "/api/files/default/d.oga")
    send = RecordingSend()
    told = incoming("", message_id="false_d", source="waha")
    assert registered(send=send, voice=voice).handle(told).status is Status.FAILED
    assert [s.text for s in send.sent] == [wording.VOICE_RETRYING]
    assert MessageStore(db).get(voice_id).status == "received"

    files.files["/api/files/default/d.oga"] = File(audio, "audio/ogg")
    # The sweep tells the session again.
    assert registered(send=send, voice=voice).handle(told).status is Status.ANSWERED
    assert "rieg" in send.sent[-1].text.lower() and len(send.sent) == 2
    assert MessageStore(db).get(voice_id).status == "answered"


def test_a_voice_note_to_a_person_of_the_team_is_heard_for_them_and_nothing_is_said(
    registered,
) -> None:
    db = registered.database
    ProducerStore(db).update(
        ProducerStore(db).get(PHONE).id, taken_over=True, taken_over_by="admin:ana"
    )
    transcriber = ScriptedTranscriber()
    audio = transcriber.teach(note("para-ana"), "se me secan las hojas")
    files = GatewayFiles({"/api/files/default/e.oga": File(audio, "audio/ogg")})
    voice = VoiceNotes(db, media=files, transcriber=transcriber, max_bytes=1 << 20)
    voice_id = _voice_stored_by_inbox(db, "false_e", "/api/files/default/e.oga")
    send = RecordingSend()
    outcome = registered(send=send, voice=voice).handle(
        incoming("", message_id="false_e", source="waha")
    )
    assert outcome.status is Status.HELD and send.sent == []
    held = MessageStore(db).get(voice_id)
    assert held.status == "held" and held.text == "se me secan las hojas"
    assert VoiceNoteStore(db).get(held.producer_id, voice_id).audio == audio
