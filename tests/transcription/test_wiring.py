"""ASR in the running system: the actor after the model, the client on the Wiring, and the
speech model's state on /health in words only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from agrochat import wiring
from agrochat.actors import ActorId
from agrochat.actors.inference import FakeBackend
from agrochat.actors.transcription import FakeRecognizer, TranscriptionClient
from agrochat.actors.transcription.testing import ogg_opus, tone
from agrochat.app import Agrochat
from agrochat.config import Config
from tests.conftest import FakePeers


def test_asr_on_starts_the_transcription_actor_after_the_model(
    tmp_path: Path, sqlite_database
) -> None:
    peers = FakePeers()
    built = wiring.build(
        Config(data_dir=str(tmp_path)),
        sqlite_database,
        peers,
        backend_factory=lambda config: FakeBackend(),
        recognizer_factory=lambda config: FakeRecognizer("¿Cuándo riego?"),
    )
    ids = [spec.id for spec in built.specs]
    assert ids.index(ActorId.TRANSCRIPTION) == ids.index(ActorId.INFERENCE) + 1
    assert ids.index(ActorId.TRANSCRIPTION) < ids.index(ActorId.SESSIONS)
    assert isinstance(built.transcription, TranscriptionClient)
    assert built.health_checks["asr"]() == (True, "loading")

    spec = next(s for s in built.specs if s.id == ActorId.TRANSCRIPTION)
    peers.refs[ActorId.TRANSCRIPTION] = spec.start()
    assert built.transcription.transcribe(ogg_opus(tone(1.0))).text == "¿Cuándo riego?"
    assert built.health_checks["asr"]() == (True, "ready")
    metrics = "".join(render() for render in built.metrics)
    assert 'agrochat_transcription_notes_total{outcome="ok"} 1.0' in metrics


def test_asr_off_has_no_actor_client_or_health_check(tmp_path: Path, sqlite_database) -> None:
    built = wiring.build(Config(data_dir=str(tmp_path), asr=False), sqlite_database, FakePeers())
    assert ActorId.TRANSCRIPTION not in [spec.id for spec in built.specs]
    assert built.transcription is None
    assert "asr" not in built.health_checks


def eventually(get: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float = 20) -> Any:
    """Poll an HTTP-visible state, as a load balancer would, until ``done`` holds."""
    deadline = time.monotonic() + timeout_s
    while not done(value := get()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


@contextmanager
def serving(tmp_path: Path, **settings: Any) -> Iterator[httpx.Client]:
    config = Config(
        data_dir=str(tmp_path / "data"),
        bind="127.0.0.1:0",
        model_path=str(tmp_path / "no-model.gguf"),
        api_key="test-api-key-0123456789",
        operator_token="test-operator-token-0123456789",
        **settings,
    )
    app = Agrochat(config)
    app.start()
    try:
        with httpx.Client(base_url=app.http.url, timeout=20) as client:
            yield client
    finally:
        app.stop()


def test_health_says_the_speech_model_failed_without_saying_where_and_stays_ready(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-whisper-model"
    with serving(tmp_path, asr_model_path=str(missing)) as client:
        response = eventually(lambda: client.get("/health"), lambda r: r.json()["asr"] != "loading")
    # Written messages are still answered: the speech model is never a reason to leave the
    # balancer (this process has no text model either, which is one).
    body = response.json()
    assert body["reasons"] and all(reason.startswith("model") for reason in body["reasons"])
    assert body["asr"] == "failed"
    assert not any("asr" in reason for reason in body.get("reasons", []))
    assert body["actors"][ActorId.TRANSCRIPTION] == "alive"
    assert str(missing) not in response.text


def test_health_has_no_asr_when_it_is_off(tmp_path: Path) -> None:
    with serving(tmp_path, asr=False) as client:
        body = client.get("/health").json()
    assert "asr" not in body
    assert ActorId.TRANSCRIPTION not in body["actors"]
