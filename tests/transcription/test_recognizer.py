"""Loading the speech model: only ever from disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrochat.actors.transcription import WhisperRecognizer
from agrochat.errors import ModelUnavailable


def test_a_path_that_is_not_a_model_directory_is_refused_not_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # faster-whisper would take this for a Hugging Face repo id and fetch it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(ModelUnavailable, match="not a faster-whisper model directory"):
        WhisperRecognizer.load(Path("Systran/faster-whisper-tiny"), threads=1)
