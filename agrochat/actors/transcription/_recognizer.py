"""The speech recogniser the TranscriptionActor owns: a Protocol, so tests hold the actor busy
with a double, and the faster-whisper implementation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agrochat.actors.transcription._audio import SAMPLE_RATE
from agrochat.actors.transcription._transcript import Segment
from agrochat.errors import DeadlineExceeded, ModelUnavailable
from agrochat.messages import expired


class Recognizer(Protocol):
    kind: str

    def recognize(
        self, samples: np.ndarray, *, language: str, deadline: float
    ) -> tuple[list[Segment], str]:
        """The segments heard in ``samples`` (16 kHz mono float32) and the language they were
        transcribed in; DeadlineExceeded once ``deadline`` (time.monotonic()) has passed."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class WhisperRecognizer:
    """faster-whisper on the CPU (CTranslate2, int8). One instance per actor thread."""

    kind = "whisper"

    def __init__(self, model: Any, path: Path, languages: frozenset[str]) -> None:
        self._model = model
        self._path = path
        self._languages = languages

    @classmethod
    def load(cls, path: Path, *, threads: int) -> WhisperRecognizer:
        # Imported here: faster-whisper pulls in CTranslate2 and tokenizers, which a process
        # with ASR off never needs.
        from faster_whisper import WhisperModel

        # faster-whisper takes a name it cannot find on disk for a Hugging Face repo and
        # downloads it; agrochat loads only what is on disk.
        if not (path / "model.bin").is_file():
            raise ModelUnavailable(f"{path} is not a faster-whisper model directory (no model.bin)")
        model = WhisperModel(
            str(path),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            local_files_only=True,
        )
        return cls(model, path, frozenset(model.supported_languages))

    def recognize(
        self, samples: np.ndarray, *, language: str, deadline: float
    ) -> tuple[list[Segment], str]:
        window_s = min(len(samples) / SAMPLE_RATE, 30.0)
        segments, info = self._model.transcribe(
            samples,
            # A code Whisper does not know (a profile's free text) means "detect it".
            language=language if language in self._languages else None,
            # Measured on bench/voice.py's sentences: beam 5 costs ~10% over greedy and fixes
            # words greedy gets wrong. One temperature only: the fallback ladder re-decodes a
            # hard note up to six times (5.6 s for a 1.8 s note here), and a low-confidence
            # transcript is asked again of the producer anyway.
            beam_size=5,
            temperature=0.0,
            # Each 30 s window on its own: conditioning on the previous window's text is how
            # Whisper falls into repeating itself on long notes.
            condition_on_previous_text=False,
            # Spanish speech is about 6 tokens a second; twice that plus room for timestamps.
            # Without a cap, a 2 s note that sent the decoder into a loop took 12 s to emit
            # 400 "¡" (the limit is Whisper's 448 tokens a window).
            max_new_tokens=min(400, 48 + int(12 * window_s)),
        )
        heard: list[Segment] = []
        # Lazy: each step decodes one more window, so a deadline stops a long note midway.
        for segment in segments:
            heard.append(
                Segment(
                    text=segment.text,
                    start=segment.start,
                    end=segment.end,
                    avg_logprob=segment.avg_logprob,
                    no_speech_prob=segment.no_speech_prob,
                    compression_ratio=segment.compression_ratio,
                )
            )
            if expired(deadline):
                raise DeadlineExceeded("the transcription ran past its deadline")
        return heard, info.language

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self._path.name}

    def close(self) -> None:
        self._model = None
