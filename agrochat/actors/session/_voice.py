"""Hearing a voice note: its audio fetched from the gateway (once; kept in ``voice_notes``),
then transcribed. Plain logic for the producer's Conversation, on the session's thread.

Why there: a voice note is one of the producer's messages and must be answered in order with
their texts (the session's mailbox is that order); the WhatsApp actor, which sends every reply
and reads every event, never waits on a download or a transcription; other producers' sessions
go on meanwhile. The transcriber bounds its own queue and honours the reply's deadline.

What goes wrong says what the producer is told and whether trying again later can help: a
gateway that is down or slow, or a transcriber that is busy or late, can; a corrupt file, a
file that is not audio, or a note too big or too long cannot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from agrochat import wording
from agrochat.actors.transcription import Transcriber, Transcript
from agrochat.errors import (
    BadMedia,
    DeadlineExceeded,
    MediaUnavailable,
    ModelUnavailable,
    Overloaded,
)
from agrochat.logs import get_logger
from agrochat.persistence import Database, Producer, StoredMessage, VoiceNoteStore

log = get_logger(__name__)

# Generic types a gateway may serve a note as; the message's own mimetype then decides.
_GENERIC = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# The least time worth giving the transcriber when the reply's deadline is close.
_MIN_DEADLINE_S = 1.0


class MediaFile(Protocol):
    @property
    def content(self) -> bytes: ...

    @property
    def mimetype(self) -> str: ...


class MediaSource(Protocol):
    """The gateways' files (``agrochat.actors.whatsapp.Channels``): raises BadMedia
    ("too_big") past ``max_bytes`` and MediaUnavailable(retryable) when it cannot be had."""

    def download(self, channel: str | None, source: str, *, max_bytes: int) -> MediaFile: ...


@dataclass(frozen=True)
class Heard:
    """A transcript, or what to tell the producer instead (and whether to try again later)."""

    transcript: Transcript | None = None
    reply: str = ""
    error: str = ""
    retry: bool = False


class VoiceNotes:
    def __init__(
        self,
        database: Database,
        *,
        media: MediaSource,
        transcriber: Transcriber,
        max_bytes: int,
    ) -> None:
        self.notes = VoiceNoteStore(database)
        self.media = media
        self.transcriber = transcriber
        self.max_bytes = max_bytes

    def hear(
        self, producer: Producer, inbound: StoredMessage, *, deadline: float, language: str = "es"
    ) -> Heard:
        """``deadline``: the reply's, on ``time.monotonic()``."""
        stored = self.notes.get(producer.id, inbound.id)
        if stored is not None:
            # Fetched on an earlier try: the gateway may no longer have it.
            audio = stored.audio
        else:
            fetched = self._fetch(producer, inbound)
            if isinstance(fetched, Heard):
                return fetched
            audio = fetched
        remaining = max(_MIN_DEADLINE_S, deadline - time.monotonic())
        try:
            transcript = self.transcriber.transcribe(audio, language=language, deadline_s=remaining)
        except BadMedia as exc:
            text = wording.VOICE_UNREADABLE if exc.reason == "corrupt" else wording.VOICE_TOO_LONG
            return Heard(reply=text, error=f"voice note {exc.reason}: {exc.message}")
        except (Overloaded, DeadlineExceeded, ModelUnavailable) as exc:
            return Heard(
                reply=wording.VOICE_RETRYING, error=f"not transcribed: {exc.code}", retry=True
            )
        log.info(
            "voice note heard",
            message_id=inbound.id,
            confidence=round(transcript.confidence, 2),
            duration_s=round(transcript.duration_s, 1),
        )
        return Heard(transcript=transcript)

    def _fetch(self, producer: Producer, inbound: StoredMessage) -> bytes | Heard:
        if not inbound.media_source:
            return Heard(reply=wording.VOICE_NOT_RECEIVED, error="voice note without a file")
        try:
            media = self.media.download(
                producer.channel, inbound.media_source, max_bytes=self.max_bytes
            )
        except BadMedia as exc:
            return Heard(reply=wording.VOICE_TOO_LONG, error=f"voice note {exc.reason}")
        except MediaUnavailable as exc:
            if exc.retryable:
                return Heard(reply=wording.VOICE_RETRYING, error=exc.message, retry=True)
            return Heard(reply=wording.VOICE_NOT_RECEIVED, error=exc.message)
        mimetype = media.mimetype
        if mimetype in _GENERIC:
            mimetype = (inbound.media_mimetype or "").split(";")[0].strip().lower()
        if not mimetype.startswith("audio/"):
            return Heard(
                reply=wording.VOICE_UNSUPPORTED, error=f"voice note of type {mimetype or '?'}"
            )
        if not media.content:
            return Heard(reply=wording.VOICE_UNREADABLE, error="voice note of 0 bytes")
        self.notes.save(producer.id, inbound.id, media.content, mimetype)
        return media.content
