"""agrochat as ``agrochat serve`` runs it (``Agrochat``: the wiring, the supervisor, waitress on
a free loopback port), in this process, against a fake gateway, on either database.

The model path names a file that does not exist: the inference actor reports it failed and the
conversations answer from the rules alone, which is what these tests are about (the real model
is in tests/session/test_model_e2e.py and test_whatsapp_model_e2e.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from agrochat.actors.transcription import Transcriber
from agrochat.app import Agrochat
from agrochat.config import Config
from agrochat.persistence import Database

API_KEY = "test-api-key-0123456789"
OPERATOR_TOKEN = "test-operator-token-0123456789"


class Running:
    def __init__(self, app: Agrochat) -> None:
        self.app = app
        self.url = app.http.url
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=20
        )

    @property
    def db(self) -> Database:
        assert self.app.database is not None
        return self.app.database

    def rows(self, query: sa.Select[Any]) -> list[Any]:
        with self.db.tx() as conn:
            return list(conn.execute(query).all())

    def health(self) -> dict[str, Any]:
        return dict(self.client.get("/health").json())

    def debug_actors(self) -> dict[str, Any]:
        response = self.client.get(
            "/debug/actors", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        )
        assert response.status_code == 200, response.text
        return {child["id"]: child for child in response.json()["actors"]}


def eventually(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """Poll an HTTP-visible state until ``check()`` is truthy: /health is all a load balancer
    sees, so "within seconds" is measured the way it would (never used to wait out a race
    between our own threads; those tests wait on the fake gateway's events)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)


@contextmanager
def running_agrochat(
    tmp_path: Path,
    database_url: str = "",
    *,
    transcription: Transcriber | None = None,
    **settings: Any,
) -> Iterator[Running]:
    """``transcription``: what hears voice notes (a double; None: ASR off, unless ``asr=True``
    is among the settings: the real speech model)."""
    settings.setdefault("asr", False)
    config = Config(
        data_dir=str(tmp_path / "data"),
        bind="127.0.0.1:0",
        database_url=database_url,
        model_path=str(tmp_path / "no-model.gguf"),
        api_key=API_KEY,
        operator_token=OPERATOR_TOKEN,
        **settings,
    )
    app = Agrochat(config, transcription=transcription)
    app.start()
    running = Running(app)
    try:
        yield running
    finally:
        running.client.close()
        app.stop()
