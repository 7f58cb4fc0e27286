"""POST /chat, the seed's Model API, over a real waitress server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import jsonschema
import pytest

from agrochat.actors.inference import (
    FakeBackend,
    InferenceActor,
    InferenceClient,
    ModelState,
    ModelStatus,
    SeedBackend,
)
from agrochat.config import Config
from agrochat.errors import ModelUnavailable
from agrochat.http import AppContext, HttpServer, make_app
from agrochat.model_output import output_schema
from tests.conftest import FakePeers
from tests.inference.conftest import wait_for

API_KEY = "test-api-key-0123456789"
SEED_BODY = {
    "system": "Responde usando SOLO la información del contexto.",
    "context": {
        "mensaje": "¿Cuándo debo regar?",
        "productor": {"cultivo": "papa", "riego": "goteo"},
        "historial": [],
    },
    "max_tokens": 300,
}


class Server:
    """One waitress server for the module (stopping one takes a second); each test plugs in
    its own actor and client through the context, as agrochat's start-up does."""

    def __init__(self) -> None:
        config = Config(api_key=API_KEY, operator_token="op-token-0123456789")
        self.ctx = AppContext(config=config)
        self.server = HttpServer(make_app(self.ctx), host="127.0.0.1", port=0, threads=4)
        self.server.start()
        self.url = self.server.url


class Harness:
    def __init__(self, server: Server, stats, respond=None, *, factory=None, queue_limit=4):
        self.server = server
        self.backend = FakeBackend(respond)
        self.status = ModelStatus()
        self.ref = InferenceActor.start(
            Config(),
            status=self.status,
            backend_factory=factory or (lambda c: self.backend),
            stats=stats,
        )
        self.client = InferenceClient(
            FakePeers(inference=self.ref), queue_limit=queue_limit, stats=stats
        )
        server.ctx.inference = self.client
        self.http = httpx.Client(
            base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {API_KEY}"}
        )

    def close(self) -> None:
        self.http.close()
        self.server.ctx.inference = None


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.server.stop()


@pytest.fixture
def make_harness(server, stats) -> Iterator:
    made: list[Harness] = []

    def make(respond=None, **kw) -> Harness:
        h = Harness(server, stats, respond, **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture
def harness(make_harness) -> Harness:
    return make_harness()


def test_chat_answers_the_models_json_as_a_string(harness):
    response = harness.http.post("/chat", json=SEED_BODY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"content"}
    output = json.loads(body["content"])
    jsonschema.validate(output, output_schema([]))
    call = harness.backend.calls[0]
    assert call["messages"][0] == {"role": "system", "content": SEED_BODY["system"]}
    assert json.loads(call["messages"][1]["content"]) == SEED_BODY["context"]
    assert call["max_tokens"] == 300
    assert call["schema"] == output_schema([])


def test_form_fields_let_the_model_fill_the_form(make_harness):
    reply = {
        "role": "registro",
        "respuesta_chat": "Anotado: papa.",
        "acciones": {
            "actualizar_formulario": {"cultivo": "papa", "clave": "x"},
            "crear_alerta": None,
            "escalar_a_humano": False,
        },
        "estado": {"tema": "registro", "respondida": True, "campos_faltantes": []},
    }
    h = make_harness(lambda m, s: json.dumps(reply))
    response = h.http.post("/chat", json={**SEED_BODY, "form_fields": ["cultivo"]})
    output = json.loads(response.json()["content"])
    assert output["acciones"]["actualizar_formulario"] == {"cultivo": "papa"}
    assert h.backend.calls[0]["schema"] == output_schema(["cultivo"])


def test_chat_needs_the_api_key(harness):
    response = httpx.post(f"{harness.server.url}/chat", json=SEED_BODY, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert harness.backend.calls == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 5000}, "max_tokens"),
        ({"max_tokens": "300"}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"context": ["no", "objeto"]}, "context"),
        ({"context": {"texto": "x" * 20000}}, "context"),
        ({"system": ""}, "system"),
        ({"system": None}, "system"),
        ({"form_fields": "cultivo"}, "form_fields"),
        ({"temperature": 9}, "temperature"),
        ({"model": "gpt"}, "model"),
    ],
)
def test_invalid_fields_answer_422_and_reach_no_model(harness, change, field):
    body = {**SEED_BODY, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = harness.http.post("/chat", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["details"]
    assert harness.backend.calls == []


def test_malformed_bodies_get_clear_4xx(harness):
    bad_json = harness.http.post(
        "/chat", content=b'{"system": ', headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    wrong_type = harness.http.post(
        "/chat", content=b"system=x", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    too_big = harness.http.post(
        "/chat",
        content=json.dumps({**SEED_BODY, "system": "x" * 70000}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
    for response in (bad_json, wrong_type, too_big):
        assert "error" in response.json()
    assert harness.backend.calls == []


def test_full_queue_answers_503_overloaded(make_harness):
    entered, release = threading.Event(), threading.Event()

    def slow(messages, schema):
        entered.set()
        assert release.wait(10)
        return "{}"

    h = make_harness(slow, queue_limit=1)
    with httpx.Client(base_url=h.server.url, timeout=10, headers=h.http.headers) as other:
        first = threading.Thread(target=other.post, args=("/chat",), kwargs={"json": SEED_BODY})
        first.start()
        assert entered.wait(5)
        response = h.http.post("/chat", json=SEED_BODY)
        release.set()
        first.join(10)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "overloaded"


def test_failed_model_answers_503_model_unavailable(make_harness):
    def broken(config):
        raise ModelUnavailable("model file /nope.gguf does not exist")

    h = make_harness(factory=broken)
    wait_for(lambda: h.status.state is ModelState.FAILED)
    response = h.http.post("/chat", json=SEED_BODY)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"


def test_chat_without_a_model_connected_answers_503(harness):
    harness.server.ctx.inference = None
    response = harness.http.post("/chat", json=SEED_BODY)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"


def test_seed_backend_talks_to_agrochats_own_chat(harness):
    """One agrochat can use another as its model (AGROCHAT_INFERENCE_API=seed)."""
    backend = SeedBackend(harness.server.url, api_key=API_KEY, timeout_s=10)
    try:
        completion = backend.complete(
            [
                {"role": "system", "content": SEED_BODY["system"]},
                {"role": "user", "content": json.dumps(SEED_BODY["context"])},
            ],
            schema=output_schema([]),
            max_tokens=200,
            temperature=0.0,
            cache_key=None,
        )
    finally:
        backend.close()
    jsonschema.validate(json.loads(completion.content), output_schema([]))
    call = harness.backend.calls[0]
    assert json.loads(call["messages"][1]["content"]) == SEED_BODY["context"]
    assert call["max_tokens"] == 200
