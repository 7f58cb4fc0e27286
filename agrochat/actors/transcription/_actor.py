"""TranscriptionActor: owns the one speech model; notes are transcribed one at a time, in
arrival order (two at once would only split the same two cores)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka

from agrochat.actors.inference import ModelState, ModelStatus
from agrochat.actors.transcription._assemble import assemble_whisper_model
from agrochat.actors.transcription._recognizer import Recognizer
from agrochat.actors.transcription._runner import TranscriptionRequest, TranscriptionRunner
from agrochat.actors.transcription._transcript import Transcript
from agrochat.config import Config
from agrochat.errors import AgrochatError
from agrochat.logs import get_logger
from agrochat.messages import Inspect
from agrochat.supervisor import Supervised

log = get_logger(__name__)

RecognizerFactory = Callable[[Config], Recognizer]


def make_recognizer(config: Config) -> Recognizer:
    """faster-whisper on ``AGROCHAT_ASR_MODEL_PATH``, else on the packaged Whisper base
    (assembled into the data dir on first use)."""
    from agrochat.actors.transcription._recognizer import WhisperRecognizer

    path = (
        Path(config.asr_model_path)
        if config.asr_model_path
        else assemble_whisper_model(config.data_path)
    )
    return WhisperRecognizer.load(path, threads=config.asr_threads)


class TranscriptionActor(Supervised, pykka.ThreadingActor):
    """A thin shell around TranscriptionRunner: loads the model in ``on_start`` (off the HTTP
    path; the mailbox waits meanwhile) and hands each request to it.

    A model that fails to load does not kill the actor (a restart would fail the same way):
    the status says "failed" and every request is answered with ModelUnavailable.
    """

    def __init__(
        self,
        config: Config,
        *,
        status: ModelStatus,
        recognizer_factory: RecognizerFactory | None = None,
    ) -> None:
        super().__init__()
        self._config = config
        self._status = status
        self._factory = recognizer_factory or make_recognizer
        self._transcriber = TranscriptionRunner(None, failure="the speech model is still loading")

    def on_start(self) -> None:
        self._status.set(
            ModelState.LOADING, self._config.asr_model_path or "the packaged Whisper base"
        )
        try:
            recognizer = self._factory(self._config)
        except Exception as exc:
            reason = (
                exc.message if isinstance(exc, AgrochatError) else f"{type(exc).__name__}: {exc}"
            )
            log.error(
                "the speech model failed to load; voice notes get model_unavailable", error=reason
            )
            self._status.set(ModelState.FAILED, reason)
            self._transcriber = TranscriptionRunner(None, failure=reason)
            return
        self._transcriber = TranscriptionRunner(recognizer)
        self._status.set(ModelState.READY, str(recognizer.describe().get("model", "")))

    def on_stop(self) -> None:
        self._transcriber.close()

    def on_failure(self, *_: Any) -> None:
        self._transcriber.close()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, TranscriptionRequest):
            return self.transcribe(message)
        if isinstance(message, Inspect):
            return self.snapshot()
        log.warning("transcription actor ignored a message", message=type(message).__name__)
        return None

    def transcribe(self, request: TranscriptionRequest) -> Transcript:
        return self._transcriber.transcribe(request)

    def snapshot(self) -> dict[str, Any]:
        view = self._status.view()
        return {
            "state": view.state.value,
            "detail": view.detail,
            "inbox": self.actor_inbox.qsize(),
            **self._transcriber.snapshot(),
        }
