"""For tests and benchmarks of voice notes.

``FakeRecognizer``: a speech model that answers at once with the text it is given, for tests
of the parts around transcription (the conversation, the gateways) where loading Whisper would
only add time: ``wiring.build(..., recognizer_factory=lambda c: FakeRecognizer())``.

``speak`` and ``ogg_opus``: real voice notes made on the spot. espeak-ng (Debian's
``espeak-ng``; a subprocess, which only makes the fixture) speaks Spanish to WAV and PyAV
encodes it to Opus in OGG, as WhatsApp sends voice notes.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Callable
from typing import Any

import av
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


# Chosen on Whisper base (bench/voice.py): espeak-ng's Latin-American Spanish with the "m3"
# variant at 120 words a minute is the synthetic voice it understands best; the default
# Castilian voice's tapped r in "regar" is heard as "dejar" more often than not.
VOICE = "es-419+m3"
SPEED = 120


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, *, voice: str = VOICE, speed: int = SPEED) -> bytes:
    """WAV bytes of espeak-ng saying ``text`` (a subprocess: it only makes the fixture)."""
    return subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def ogg_opus(audio: bytes | np.ndarray, *, rate: int = 16_000) -> bytes:
    """Opus in OGG at 48 kHz mono, like a WhatsApp voice note: from WAV bytes, or from float32
    samples at ``rate``."""
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as dst:
        stream = dst.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)

        def encode(frame: av.AudioFrame | None) -> None:
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    dst.mux(packet)

        if isinstance(audio, bytes):
            with av.open(io.BytesIO(audio)) as src:
                for frame in src.decode(audio=0):
                    encode(frame)
        else:
            samples = np.asarray(audio, dtype=np.float32).reshape(1, -1)
            for start in range(0, samples.shape[1], rate):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, start : start + rate]),
                    format="flt",
                    layout="mono",
                )
                frame.sample_rate = rate
                encode(frame)
        encode(None)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out.getvalue()


def tone(seconds: float, *, rate: int = 16_000) -> np.ndarray:
    """A quiet 440 Hz tone: decodable audio of an exact length, for the limits."""
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation: "¿Cuándo?" and "cuando" are one word."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return "".join(c if c.isalnum() else " " for c in plain).split()
