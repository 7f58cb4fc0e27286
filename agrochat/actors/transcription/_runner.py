"""What the TranscriptionActor does with one request, as a plain class tests drive without
threads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agrochat.actors.transcription._audio import seconds
from agrochat.actors.transcription._recognizer import Recognizer
from agrochat.actors.transcription._transcript import Transcript, transcript
from agrochat.errors import AgrochatError, DeadlineExceeded, ModelUnavailable
from agrochat.logs import get_logger
from agrochat.messages import expired

log = get_logger(__name__)


# eq=False: comparing two requests would compare their sample arrays element by element.
@dataclass(frozen=True, eq=False)
class TranscriptionRequest:
    """The client's ask to the TranscriptionActor: a note already decoded (on the caller's
    thread, so bad media fails fast and the model's thread only runs the model).

    It travels only between TranscriptionClient and TranscriptionActor, inside this package;
    other actors call the client, never the actor."""

    samples: np.ndarray = field(repr=False)
    language: str
    deadline: float  # time.monotonic()
    submitted_at: float = 0.0


class TranscriptionRunner:
    """Runs requests in order on one recogniser. ``recognizer`` None means it failed to load:
    every request gets ModelUnavailable with the reason."""

    def __init__(self, recognizer: Recognizer | None, *, failure: str = "") -> None:
        self.recognizer = recognizer
        self.failure = failure
        self.counts = {"ok": 0, "expired_before_start": 0, "deadline": 0, "error": 0}
        self.last_real_time_factor: float | None = None

    def transcribe(self, request: TranscriptionRequest) -> Transcript:
        if self.recognizer is None:
            raise ModelUnavailable(f"the speech model is not available: {self.failure}")
        if expired(request.deadline):
            # A timed-out Pykka ask is not cancelled: its caller has gone, don't spend the
            # model on it.
            self.counts["expired_before_start"] += 1
            raise DeadlineExceeded("the voice note waited past its deadline and was dropped")
        started = time.monotonic()
        duration = seconds(request.samples)
        try:
            segments, language = self.recognizer.recognize(
                request.samples, language=request.language, deadline=request.deadline
            )
        except DeadlineExceeded:
            self.counts["deadline"] += 1
            raise
        except AgrochatError:
            self.counts["error"] += 1
            raise
        except Exception as exc:
            # An ask hands the exception to its caller and the actor lives on; make it one
            # the caller knows how to answer.
            log.exception("transcription failed")
            self.counts["error"] += 1
            raise ModelUnavailable(
                f"the speech model failed on this note ({type(exc).__name__})"
            ) from exc
        elapsed = time.monotonic() - started
        result = transcript(segments, language=language, duration_s=duration)
        self.counts["ok"] += 1
        self.last_real_time_factor = duration / elapsed if elapsed > 0 else None
        log.info(
            "voice note transcribed",
            audio_s=round(duration, 2),
            took_s=round(elapsed, 3),
            queue_wait_s=round(max(0.0, started - request.submitted_at), 3),
            confidence=result.confidence,
        )
        return result

    def snapshot(self) -> dict[str, Any]:
        return {
            "recognizer": self.recognizer.describe() if self.recognizer is not None else None,
            "failure": self.failure or None,
            "counts": dict(self.counts),
            "last_real_time_factor": (
                round(self.last_real_time_factor, 2) if self.last_real_time_factor else None
            ),
        }

    def close(self) -> None:
        if self.recognizer is not None:
            try:
                self.recognizer.close()
            except Exception:
                log.exception("closing the speech model failed")
            self.recognizer = None
