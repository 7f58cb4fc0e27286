"""A pool of model servers in the running process: what /health, /debug/actors and /metrics
show of each server (one a scripted OpenAI-compatible server on loopback, one nothing listens
on), and that no URL credentials get out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agrochat.actors.inference.testing import free_port
from agrochat.app import Agrochat
from agrochat.config import Config
from agrochat.messages import InferenceRequest, deadline_in
from tests.inference.test_remote import ModelServer, openai_reply

API_KEY = "test-api-key-0123456789"
OPERATOR_TOKEN = "test-operator-token-0123456789"


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    yield server
    server.close()


def test_health_debug_and_metrics_show_each_model_server(
    tmp_path: Path, model_server: ModelServer
) -> None:
    model_server.script += [(200, openai_reply('{"respuesta": "hola"}'), 0)] * 4
    dead = f"http://agro:pw-0123456789@127.0.0.1:{free_port()}"
    config = Config(
        data_dir=str(tmp_path),
        bind="127.0.0.1:0",
        inference_url=f"{model_server.url} {dead}",
        asr=False,
        api_key=API_KEY,
        operator_token=OPERATOR_TOKEN,
    )
    app = Agrochat(config)
    app.start()
    try:
        assert app.wiring is not None
        for _ in range(2):
            # The second goes to the idle dead server first, then over to the live one.
            result = app.wiring.inference.generate(
                InferenceRequest(
                    messages=({"role": "user", "content": "hola"},), deadline=deadline_in(10)
                )
            )
            assert result.content == '{"respuesta": "hola"}'
        with httpx.Client(base_url=app.http.url, timeout=10) as client:
            health = client.get("/health")
            debug = client.get(
                "/debug/actors", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
            )
            metrics = client.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    finally:
        app.stop()

    assert health.status_code == 200
    assert health.json()["model"] == "remote"
    assert health.json()["model_servers"] == "1 of 2 up"
    assert "127.0.0.1" not in health.text  # /health answers anyone: counts only

    states = {a["id"]: a["state"] for a in debug.json()["actors"]}
    live, down = states["inference"]["server"], states["inference-2"]["server"]
    assert (live["url"], live["state"], live["served"]) == (model_server.url, "up", 2)
    assert down["url"] == dead.replace("agro:pw-0123456789@", "")
    assert (down["state"], down["failures"]) == ("down", 1)
    assert down["down_until"] is not None and "Connect" in down["last_error"]

    text = metrics.text
    assert f'agrochat_inference_server_up{{server="{model_server.url}"}} 1.0' in text
    assert f'agrochat_inference_server_in_flight{{server="{model_server.url}"}} 0.0' in text
    assert "agrochat_inference_queue_depth" in text  # the existing series stay
    for body in (health.text, debug.text, text):
        assert "pw-0123456789" not in body
