"""TranscriptionActor + TranscriptionClient with a recogniser double: bad media refused on the
caller's side, the queue bound, deadlines, a model that fails to load."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from agrochat.actors.inference import ModelState, ModelStatus
from agrochat.actors.transcription import (
    FakeRecognizer,
    Limits,
    TranscriptionActor,
    TranscriptionClient,
)
from agrochat.actors.transcription.testing import ogg_opus, tone
from agrochat.config import Config
from agrochat.errors import BadMedia, DeadlineExceeded, ModelUnavailable, Overloaded
from agrochat.messages import Inspect
from tests.conftest import FakePeers

CONFIG = Config()
LIMITS = Limits(max_seconds=10, max_bytes=1 << 20)
NOTE = ogg_opus(tone(1.0))


class Gate:
    """A recogniser's hearing that waits until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()

    def __call__(self, samples: np.ndarray, language: str) -> str:
        self.entered.set()
        assert self.open.wait(10), "the test never opened the gate"
        return "riego"


def start(recognizer=None, *, factory=None, limit=4, limits=LIMITS):
    status = ModelStatus()
    ref = TranscriptionActor.start(
        CONFIG, status=status, recognizer_factory=factory or (lambda config: recognizer)
    )
    client = TranscriptionClient(
        FakePeers(transcription=ref),
        queue_limit=limit,
        limits=limits,
        timeout_s=30,
        status=status,
    )
    return ref, client, status


def test_a_note_comes_back_as_a_transcript_with_its_confidence_and_length() -> None:
    recognizer = FakeRecognizer("¿Cuándo debo regar mi papa?", confidence=0.8)
    ref, client, status = start(recognizer)
    transcript = client.transcribe(NOTE, language="qu")
    assert transcript.text == "¿Cuándo debo regar mi papa?"
    assert transcript.confidence == pytest.approx(0.8)
    assert transcript.language == "qu"
    assert transcript.duration_s == pytest.approx(1.0, abs=0.1)
    assert recognizer.calls[0]["language"] == "qu"
    assert status.state is ModelState.READY
    assert ref.ask(Inspect(), timeout=5)["counts"]["ok"] == 1


def test_random_bytes_are_refused_as_corrupt_and_never_reach_the_model() -> None:
    recognizer = FakeRecognizer()
    _, client, _ = start(recognizer)
    with pytest.raises(BadMedia) as caught:
        client.transcribe(random.Random(3).randbytes(5000))
    assert caught.value.reason == "corrupt"
    assert recognizer.calls == []
    assert client.in_flight == 0
    assert 'agrochat_transcription_notes_total{outcome="corrupt"} 1.0' in client.stats.render()


def test_a_note_over_the_maximum_duration_is_refused_as_too_long() -> None:
    recognizer = FakeRecognizer()
    _, client, _ = start(recognizer, limits=Limits(max_seconds=2, max_bytes=1 << 20))
    with pytest.raises(BadMedia) as caught:
        client.transcribe(ogg_opus(tone(3.0)))
    assert caught.value.reason == "too_long"
    assert recognizer.calls == []


def test_a_note_over_the_maximum_size_is_refused_as_too_big() -> None:
    recognizer = FakeRecognizer()
    _, client, _ = start(recognizer, limits=Limits(max_seconds=10, max_bytes=len(NOTE) - 1))
    with pytest.raises(BadMedia) as caught:
        client.transcribe(NOTE)
    assert caught.value.reason == "too_big"
    assert recognizer.calls == []


def test_a_full_queue_refuses_at_once_and_the_waiting_note_is_still_answered() -> None:
    gate = Gate()
    _, client, _ = start(FakeRecognizer(hear=gate), limit=1)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.transcribe, NOTE)
        assert gate.entered.wait(5)
        with pytest.raises(Overloaded):
            client.transcribe(NOTE)
        gate.open.set()
        assert first.result(timeout=5).text == "riego"
    assert client.in_flight == 0
    text = client.stats.render()
    assert 'agrochat_transcription_notes_total{outcome="overloaded"} 1.0' in text
    assert 'agrochat_transcription_notes_total{outcome="ok"} 1.0' in text


def test_a_note_past_its_deadline_raises_and_is_dropped_unheard() -> None:
    gate = Gate()
    recognizer = FakeRecognizer(hear=gate)
    ref, client, _ = start(recognizer)
    client.GRACE_S = 0.0
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(client.transcribe, NOTE)
        assert gate.entered.wait(5)
        with pytest.raises(DeadlineExceeded):
            client.transcribe(NOTE, deadline_s=0.2)
        gate.open.set()
        busy.result(timeout=5)
    # Asked after the expired note, so answered after the actor dealt with it.
    counts = ref.ask(Inspect(), timeout=5)["counts"]
    assert counts["expired_before_start"] == 1
    assert len(recognizer.calls) == 1


def test_a_model_that_fails_to_load_answers_model_unavailable() -> None:
    def broken(config: Config) -> FakeRecognizer:
        raise RuntimeError("no such model directory")

    ref, client, status = start(factory=broken)
    snapshot = ref.ask(Inspect(), timeout=5)
    assert snapshot["state"] == "failed"
    assert status.health() == (False, "failed")
    with pytest.raises(ModelUnavailable):
        client.transcribe(NOTE)


def test_a_recogniser_that_raises_gives_model_unavailable_and_the_actor_lives() -> None:
    def crash(samples: np.ndarray, language: str) -> str:
        raise RuntimeError("ctranslate2 exploded")

    ref, client, _ = start(FakeRecognizer(hear=crash))
    with pytest.raises(ModelUnavailable):
        client.transcribe(NOTE)
    assert ref.is_alive()
    assert ref.ask(Inspect(), timeout=5)["counts"]["error"] == 1


def test_health_says_loading_until_the_model_is_loaded_then_ready() -> None:
    loaded = threading.Event()

    def slow(config: Config) -> FakeRecognizer:
        assert loaded.wait(10), "the test never let the model load"
        return FakeRecognizer()

    _, client, status = start(factory=slow)
    assert status.health() == (False, "loading")
    loaded.set()
    # The note waits in the mailbox behind the load instead of failing.
    assert client.transcribe(NOTE).text
    assert status.health() == (True, "ready")
