"""Test doubles for the speech model: a recogniser that answers at once with the text it is
given, for tests of the parts around transcription (the conversation, the gateways) where
loading Whisper would only add time. Use it as
``TranscriptionActor.start(config, status=..., recognizer_factory=lambda c: FakeRecognizer())``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from agrochat.actors.transcription._audio import seconds
from agrochat.actors.transcription._transcript import Segment

Hear = Callable[[np.ndarray, str], str]


class FakeRecognizer:
    """Hears ``text`` (or ``hear(samples, language)``) in every note, spoken with the given
    confidence: ``avg_logprob`` and ``no_speech_prob`` are chosen so that
    ``Transcript.confidence`` comes out as ``confidence``.

    ``hear`` may block (on a threading.Event) to hold the model busy in queue tests, or raise
    to simulate a failing model. Every call's language and duration are recorded in ``calls``.
    """

    kind = "fake"

    def __init__(
        self,
        text: str = "¿Cuándo debo regar mi papa?",
        *,
        confidence: float = 0.9,
        hear: Hear | None = None,
    ) -> None:
        if not 0 < confidence <= 1:
            raise ValueError("confidence must be in (0, 1]")
        self.hear = hear or (lambda samples, language: text)
        self.confidence = confidence
        self.calls: list[dict[str, Any]] = []
        self.closed = threading.Event()

    def recognize(
        self, samples: np.ndarray, *, language: str, deadline: float
    ) -> tuple[list[Segment], str]:
        self.calls.append({"language": language, "duration_s": seconds(samples)})
        text = self.hear(samples, language)
        if not text:
            return [], language
        logprob = float(np.log(self.confidence))
        return [Segment(text, 0.0, max(seconds(samples), 0.1), logprob, 0.0)], language

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": "fake"}

    def close(self) -> None:
        self.closed.set()
