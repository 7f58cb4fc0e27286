"""Voice notes to text: TranscriptionActor owns the offline speech model (Whisper base through
faster-whisper, or any faster-whisper model directory) behind a bounded, deadline-aware
TranscriptionClient. Audio is decoded in process with PyAV. Test doubles live in ``.testing``.
"""

from agrochat.actors.transcription._actor import (
    RecognizerFactory,
    TranscriptionActor,
    make_recognizer,
)
from agrochat.actors.transcription._assemble import (
    WHISPER_MODEL_SHA256,
    assemble_whisper_model,
)
from agrochat.actors.transcription._audio import SAMPLE_RATE, Limits, decode
from agrochat.actors.transcription._client import TranscriptionClient
from agrochat.actors.transcription._metrics import TranscriptionStats
from agrochat.actors.transcription._recognizer import Recognizer, WhisperRecognizer
from agrochat.actors.transcription._runner import TranscriptionRequest, TranscriptionRunner
from agrochat.actors.transcription._transcript import (
    LOW_CONFIDENCE,
    Segment,
    Transcriber,
    Transcript,
    confidence,
)
from agrochat.actors.transcription.testing import FakeRecognizer

__all__ = [
    "LOW_CONFIDENCE",
    "SAMPLE_RATE",
    "WHISPER_MODEL_SHA256",
    "FakeRecognizer",
    "Limits",
    "Recognizer",
    "RecognizerFactory",
    "Segment",
    "Transcriber",
    "Transcript",
    "TranscriptionActor",
    "TranscriptionClient",
    "TranscriptionRequest",
    "TranscriptionRunner",
    "TranscriptionStats",
    "WhisperRecognizer",
    "assemble_whisper_model",
    "confidence",
    "decode",
    "make_recognizer",
]
