"""What a transcription produces, and how sure of it we are."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Below this confidence a transcript is a guess: ask the producer to repeat or write instead
# of answering it. Calibrated with bench/voice.py and the voices tried for the tests (espeak-ng
# Spanish notes, OGG/Opus, Whisper base int8, beam 5), 18 notes:
# - understood (the key words right, word error rate at most 0.6): 0.400-0.672;
# - garbled ("que no no te pondo al fijo", "¡Wandoneo regal mi papá!", "mi parcela tiene mosa
#   que darle as ne pa pa"): 0.262-0.383, and two at 0.393 and 0.417;
# - noise and silence: nothing recognised, 0.
# 0.39 flags 6 of the 8 garbled and none of the understood. The groups overlap between 0.39
# and 0.42, so this only catches the clearly garbled; what slips through still meets
# retrieval, which answers "no tengo información" to a question it cannot match. Measured on
# a synthetic voice only: real voices score differently, recalibrate on real notes.
LOW_CONFIDENCE = 0.39


@dataclass(frozen=True)
class Transcript:
    """A voice note's text.

    ``confidence`` (0..1) is the segments' mean token probability, ``exp(avg_logprob)``, times
    the probability that the segment is speech at all, ``1 - no_speech_prob``, averaged over
    the segments weighted by their length; a segment that repeats itself (compression ratio
    over 2.4) counts as 0, and so does a note where nothing was recognised. Compare it with
    ``LOW_CONFIDENCE``. ``language`` is the language Whisper transcribed in (the hint unless
    it was not a language Whisper knows); ``duration_s`` the note's length.
    """

    text: str
    confidence: float
    language: str
    duration_s: float


class Transcriber(Protocol):
    """What hears a voice note: TranscriptionClient in production, a double in tests.
    ``deadline_s``: seconds from now the caller will wait."""

    def transcribe(
        self, audio: bytes, *, language: str = "es", deadline_s: float | None = None
    ) -> Transcript: ...


@dataclass(frozen=True)
class Segment:
    """One stretch of speech as the recogniser heard it (faster-whisper's Segment, the fields
    we use)."""

    text: str
    start: float
    end: float
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float = 1.0


# Whisper's own line for a decode that went wrong by repeating itself (its text compresses
# better than speech does; the default compression_ratio_threshold of faster-whisper and
# openai-whisper). Such a segment can carry a high token probability: measured here, espeak's
# "¿Cuándo debo regar mi papa?" came back as 400 "¡" with avg_logprob -0.17.
REPETITIVE = 2.4


def confidence(segments: Sequence[Segment]) -> float:
    """See ``Transcript.confidence``."""
    total = 0.0
    weighted = 0.0
    for segment in segments:
        # A zero-length segment (Whisper emits them at a window's edge) still counts a little.
        weight = max(segment.end - segment.start, 0.1)
        if segment.compression_ratio > REPETITIVE:
            likely = 0.0
        else:
            likely = math.exp(min(segment.avg_logprob, 0.0)) * (1.0 - segment.no_speech_prob)
        weighted += weight * likely
        total += weight
    if total == 0:
        return 0.0
    return min(1.0, max(0.0, weighted / total))


def transcript(segments: Sequence[Segment], *, language: str, duration_s: float) -> Transcript:
    text = " ".join(s.text.strip() for s in segments if s.text.strip())
    return Transcript(
        text=text,
        confidence=round(confidence(segments), 4),
        language=language,
        duration_s=round(duration_s, 3),
    )
