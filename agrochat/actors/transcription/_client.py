"""TranscriptionClient: how the conversation (or a gateway) turns a voice note into text, with
the queue bounded by us.

Pykka inboxes are unbounded, so the bound lives here, as in InferenceClient: a count of notes
waiting for or running on the model. When ``queue_limit`` are in flight, ``transcribe`` raises
Overloaded at once, before anything is queued, so the caller can keep the note and retry. The
note is decoded here, on the caller's thread: bad media is refused at once (not after waiting
behind other producers' notes), its length is known before the model sees it, and the model's
thread only runs the model.
"""

from __future__ import annotations

import threading
import time

import pykka

from agrochat.actors._common import ActorId, Peers
from agrochat.actors.inference import ModelState, ModelStatus
from agrochat.actors.transcription._audio import Limits, check_size, decode
from agrochat.actors.transcription._metrics import TranscriptionStats
from agrochat.actors.transcription._runner import TranscriptionRequest
from agrochat.actors.transcription._transcript import Transcript
from agrochat.errors import (
    BadMedia,
    DeadlineExceeded,
    ModelUnavailable,
    NotReady,
    Overloaded,
)


class TranscriptionClient:
    # Extra wait past the deadline for the actor's own DeadlineExceeded to arrive.
    GRACE_S = 2.0

    def __init__(
        self,
        peers: Peers,
        *,
        queue_limit: int,
        limits: Limits,
        timeout_s: float,
        status: ModelStatus | None = None,
        stats: TranscriptionStats | None = None,
    ) -> None:
        if queue_limit < 1:
            raise ValueError("queue_limit must be at least 1")
        self._peers = peers
        self.queue_limit = queue_limit
        self.limits = limits
        self.timeout_s = timeout_s
        self._status = status
        self.stats = stats or TranscriptionStats()
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def transcribe(
        self, audio: bytes, *, language: str = "es", deadline_s: float | None = None
    ) -> Transcript:
        """The note's transcript.

        ``deadline_s``: seconds from now the caller will wait (default AGROCHAT_ASR_TIMEOUT_S).
        Raises BadMedia (``reason`` "corrupt", "too_long" or "too_big"), Overloaded (the queue
        is full; nothing was started), DeadlineExceeded or ModelUnavailable.
        """
        started = time.monotonic()
        try:
            transcript = self._transcribe(audio, language, started, deadline_s)
        except BadMedia as exc:
            self.stats.notes.labels(exc.reason).inc()
            raise
        except Overloaded:
            self.stats.notes.labels("overloaded").inc()
            raise
        except DeadlineExceeded:
            self.stats.notes.labels("deadline").inc()
            raise
        except ModelUnavailable:
            self.stats.notes.labels("unavailable").inc()
            raise
        self.stats.notes.labels("ok").inc()
        self.stats.duration.observe(time.monotonic() - started)
        self.stats.audio.inc(transcript.duration_s)
        return transcript

    def _transcribe(
        self, audio: bytes, language: str, started: float, deadline_s: float | None
    ) -> Transcript:
        deadline = started + (self.timeout_s if deadline_s is None else deadline_s)
        check_size(audio, self.limits)
        if self._status is not None and self._status.state is ModelState.FAILED:
            raise ModelUnavailable("the speech model is not available")
        with self._lock:
            if self._in_flight >= self.queue_limit:
                raise Overloaded(
                    f"{self._in_flight} voice notes are already waiting; try again shortly"
                )
            self._in_flight += 1
            self.stats.in_flight.set(self._in_flight)
        try:
            samples = decode(audio, self.limits)
            if time.monotonic() >= deadline:
                raise DeadlineExceeded("the deadline passed while the note was decoded")
            # Looked up per call: after a restart the supervisor holds a new actor.
            ref = self._peers.ref(ActorId.TRANSCRIPTION)
            request = TranscriptionRequest(
                samples, language, deadline, submitted_at=time.monotonic()
            )
            future = ref.ask(request, block=False)
            try:
                return future.get(timeout=max(0.0, deadline - time.monotonic()) + self.GRACE_S)
            except pykka.Timeout:
                raise DeadlineExceeded("no transcript before the deadline") from None
        except (pykka.ActorDeadError, NotReady):
            raise ModelUnavailable("the transcription actor is not running") from None
        finally:
            with self._lock:
                self._in_flight -= 1
                self.stats.in_flight.set(self._in_flight)
