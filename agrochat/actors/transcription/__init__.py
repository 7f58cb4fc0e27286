"""Speech to text for voice notes: what a transcription gives and who gives it (stub of the
interface; the real package with the model replaces it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Below this, a transcript is a guess: the producer is asked to repeat rather than answered.
LOW_CONFIDENCE = 0.4


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float  # 0..1
    language: str
    duration_s: float


class Transcriber(Protocol):
    def transcribe(
        self, audio: bytes, *, language: str = "es", deadline_s: float | None = None
    ) -> Transcript: ...


__all__ = ["LOW_CONFIDENCE", "Transcriber", "Transcript"]
