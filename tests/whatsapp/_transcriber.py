"""A transcriber double (the real one owns a Whisper model): it hears only the notes a test
taught it, by their exact bytes, and finds anything else corrupt, as a decoder would."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from agrochat.actors.transcription import Transcript
from agrochat.errors import BadMedia

# Enough of an Ogg page's start to look like WhatsApp's Opus note to a reader of the bytes.
OGG = b"OggS\x00\x02" + bytes(range(64)) * 4


class Transcriber(Protocol):
    def transcribe(
        self, audio: bytes, *, language: str = "es", deadline_s: float | None = None
    ) -> Transcript: ...


def note(tag: str) -> bytes:
    """A distinct "voice note" per tag."""
    return OGG + tag.encode()


@dataclass(frozen=True)
class Heard:
    audio: bytes
    language: str
    deadline_s: float | None


@dataclass
class ScriptedTranscriber:
    """``knows[audio]``: the Transcript to give, or the error to raise, for those bytes."""

    knows: dict[bytes, Transcript | Exception] = field(default_factory=dict)
    calls: list[Heard] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def teach(
        self, audio: bytes, text: str, *, confidence: float = 0.92, duration_s: float = 3.0
    ) -> bytes:
        self.knows[audio] = Transcript(
            text=text, confidence=confidence, language="es", duration_s=duration_s
        )
        return audio

    def transcribe(
        self, audio: bytes, *, language: str = "es", deadline_s: float | None = None
    ) -> Transcript:
        with self._lock:
            self.calls.append(Heard(audio, language, deadline_s))
        known = self.knows.get(audio)
        if known is None:
            raise BadMedia("corrupt", "not an audio stream the decoder can read")
        if isinstance(known, Exception):
            raise known
        return known
