"""The real speech model (Whisper base through faster-whisper) on voice notes the test makes:
espeak-ng speaks Spanish, PyAV encodes it to Opus in OGG as WhatsApp sends it. Two
transcriptions in all (about a second each); the model is loaded once per run."""

from __future__ import annotations

import numpy as np

from agrochat.actors.inference import ModelStatus
from agrochat.actors.transcription import (
    LOW_CONFIDENCE,
    Limits,
    TranscriptionActor,
    TranscriptionClient,
)
from agrochat.actors.transcription.testing import ogg_opus, speak, words
from agrochat.config import Config
from tests.conftest import FakePeers
from tests.transcription.conftest import Borrowed

# The farmer's question after a greeting: with under 2.5 s of a synthetic voice, Whisper base
# hears "regar" as "dejar" as often as not (bench/voice.py); a greeting gives it context, as
# real voice notes usually do.
QUESTION = "Buenos días. Quiero saber cuándo debo regar mi papa."


def client_for(whisper) -> TranscriptionClient:
    ref = TranscriptionActor.start(
        Config(), status=ModelStatus(), recognizer_factory=lambda config: Borrowed(whisper)
    )
    return TranscriptionClient(
        FakePeers(transcription=ref),
        queue_limit=2,
        limits=Limits(max_seconds=120, max_bytes=16 << 20),
        timeout_s=60,
    )


def test_a_spanish_voice_note_in_ogg_opus_is_heard_with_its_key_words(
    whisper, needs_espeak
) -> None:
    note = ogg_opus(speak(QUESTION))
    assert note[:4] == b"OggS"
    transcript = client_for(whisper).transcribe(note, language="es")
    heard = words(transcript.text)
    assert "regar" in heard, transcript.text
    assert "papa" in heard, transcript.text
    assert transcript.language == "es"
    assert transcript.confidence >= LOW_CONFIDENCE
    assert 2.0 < transcript.duration_s < 8.0


def test_noise_is_heard_with_low_confidence(whisper) -> None:
    noise = np.random.default_rng(11).normal(0.0, 0.1, 16_000 * 4).astype(np.float32)
    transcript = client_for(whisper).transcribe(ogg_opus(noise), language="es")
    assert transcript.confidence < LOW_CONFIDENCE
