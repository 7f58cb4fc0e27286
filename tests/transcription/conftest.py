"""The real speech model, loaded once per run and shared, and the espeak-ng requirement
(skipped where it is missing, except in CI, where it is a failure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agrochat.actors.transcription import (
    Segment,
    WhisperRecognizer,
    assemble_whisper_model,
)
from agrochat.actors.transcription.testing import espeak_available
from tests.conftest import IN_CI


@pytest.fixture(scope="session")
def whisper() -> Iterator[WhisperRecognizer]:
    """Whisper base, assembled into var/test-asr/ (kept between runs) and loaded once."""
    repo = Path(__file__).resolve().parents[2]
    path = assemble_whisper_model(repo / "var" / "test-asr")
    recognizer = WhisperRecognizer.load(path, threads=2)
    yield recognizer
    recognizer.close()


class Borrowed:
    """The shared recogniser, lent to an actor: the actor's stop must not close it."""

    kind = "whisper"

    def __init__(self, recognizer: Any) -> None:
        self._recognizer = recognizer

    def recognize(
        self, samples: np.ndarray, *, language: str, deadline: float
    ) -> tuple[list[Segment], str]:
        return self._recognizer.recognize(samples, language=language, deadline=deadline)

    def describe(self) -> dict[str, Any]:
        return self._recognizer.describe()

    def close(self) -> None:
        pass


@pytest.fixture
def needs_espeak() -> None:
    if not espeak_available():
        reason = "espeak-ng is not installed (apt-get install espeak-ng)"
        if IN_CI:
            pytest.fail(f"CI must run the voice-note tests: {reason}")
        pytest.skip(reason)
