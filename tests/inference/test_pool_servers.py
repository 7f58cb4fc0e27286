"""A pool of REAL model servers: two llama-cpp-python ``llama_cpp.server`` processes on
loopback, each serving the packaged model on one thread, behind agrochat's real wiring (one
InferenceActor per server, OpenAIBackend, the client's ServerPool).

Short prompts and a few tokens each keep the file near a minute on 2 cores (the servers load
the model in a few seconds, once per test run).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agrochat.actors.inference import LlamaServer, assemble_default_model, wire_inference
from agrochat.config import Config
from agrochat.messages import InferenceRequest, InferenceResult, deadline_in
from agrochat.supervisor import Supervisor
from tests.inference.conftest import wait_for

pytest.importorskip("llama_cpp.server")

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
SCHEMA = {
    "type": "object",
    "properties": {"respuesta": {"type": "string"}},
    "required": ["respuesta"],
}


@pytest.fixture(scope="session")
def llama_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LlamaServer]]:
    model = assemble_default_model(REPO / "var" / "test-model")
    logs = tmp_path_factory.mktemp("llama-servers")
    servers = [LlamaServer(model, n_threads=1, log=logs / f"server{i}.log") for i in (1, 2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


class Agrochat:
    """The inference part of agrochat, as ``wiring.build`` makes it, on the given servers."""

    def __init__(self, urls: list[str]) -> None:
        self.wiring = wire_inference(Config(inference_url=",".join(urls)), self)
        assert self.wiring.pool is not None
        self.pool = self.wiring.pool
        self.supervisor = Supervisor(self.wiring.specs, intensity=5, period_s=30)
        self.supervisor.start()
        self.client = self.wiring.client

    def ref(self, id: str) -> Any:
        return self.supervisor.ref(id)

    def ask(self, text: str, cache_key: str | None = None) -> InferenceResult:
        return self.client.generate(
            InferenceRequest(
                messages=(
                    {"role": "system", "content": "Responde en JSON, en pocas palabras."},
                    {"role": "user", "content": text},
                ),
                deadline=deadline_in(60),
                max_tokens=12,
                schema=SCHEMA,
                cache_key=cache_key,
            )
        )

    def served(self) -> dict[str, int]:
        return {row["url"]: row["served"] for row in self.pool.snapshot()}

    def answered_by(self, text: str, cache_key: str | None = None) -> str:
        """Which server answered this (sequential) request."""
        before = self.served()
        result = self.ask(text, cache_key)
        assert result.content.startswith("{")
        after = self.served()
        (server,) = [url for url in after if after[url] > before[url]]
        return server


@pytest.fixture
def agrochat(llama_servers: list[LlamaServer]) -> Iterator[Agrochat]:
    app = Agrochat([s.url for s in llama_servers])
    yield app
    app.supervisor.stop()


def test_concurrent_requests_are_served_by_both_servers_at_once(agrochat):
    with ThreadPoolExecutor(4) as threads:
        results = list(threads.map(agrochat.ask, ["hola", "buenos días", "¿qué tal?", "gracias"]))
    for result in results:
        assert isinstance(json.loads(result.content), dict)  # cut at 12 tokens: maybe {}
    served = agrochat.served()
    assert sum(served.values()) == 4
    assert all(count >= 1 for count in served.values()), served
    # The backends learned that llama_cpp.server wants json_object with the schema.
    states = [c.state for c in agrochat.supervisor.snapshot(state=True)]
    assert {s["backend"]["schema_form"] for s in states} == {"json_object"}


def test_a_producer_keeps_to_one_server(agrochat):
    home = agrochat.answered_by("hola, soy Juan", "51911111111@c.us")
    elsewhere = agrochat.answered_by("hola, soy Rosa", "51922222222@c.us")
    assert elsewhere != home  # the idle one
    for text in ("¿cuándo riego?", "¿y el abono?"):
        assert agrochat.answered_by(text, "51911111111@c.us") == home
        assert agrochat.answered_by(text, "51922222222@c.us") == elsewhere


def test_a_killed_server_loses_no_request_and_is_used_again_once_restarted(agrochat, llama_servers):
    # Shorter than production's 2 s doubling to 30 s, so the test waits less for the comeback.
    agrochat.pool.backoff_s, agrochat.pool.max_backoff_s = 0.5, 1.0
    victim, survivor = llama_servers
    questions = [f"pregunta {i}" for i in range(6)]
    with ThreadPoolExecutor(len(questions)) as threads:
        futures = [threads.submit(agrochat.ask, q) for q in questions]
        wait_for(lambda: agrochat.pool.server("inference")["in_flight"] >= 1, timeout=30)
        victim.kill()
        results = [f.result(timeout=90) for f in futures]  # each answered: none lost
    assert all(isinstance(json.loads(r.content), dict) for r in results)
    down = agrochat.pool.server("inference")
    assert down["failures"] >= 1 and down["url"] == victim.url
    assert agrochat.served()[survivor.url] >= len(questions) - down["served"]

    victim.start()  # the same port: the address the pool knows
    wait_for(lambda: agrochat.answered_by("¿sigues ahí?") == victim.url, timeout=30)
    assert agrochat.pool.server("inference")["state"] == "up"
