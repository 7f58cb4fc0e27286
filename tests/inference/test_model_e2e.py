"""End to end with the REAL packaged model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, 491 MB).

The model is assembled once into ``<repo>/var/test-model/`` (kept between runs) and loaded once
per session; each test starts its own InferenceActor on it. Short ``max_tokens`` and a small
context keep the file to a few minutes on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from agrochat.actors.inference import (
    InferenceActor,
    InferenceClient,
    InferenceStats,
    ModelStatus,
)
from agrochat.config import Config
from agrochat.messages import InferenceRequest, Inspect, deadline_in
from agrochat.model_output import output_schema, parse_output_detailed
from tests.conftest import Borrowed, FakePeers

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
CONFIG = Config(data_dir=str(REPO / "var" / "test-model"), model_ctx=2048, model_threads=2)
FIELDS = ["cultivo", "variedad", "fecha_siembra", "hectareas", "riego", "ubicacion"]
SCHEMA = output_schema(FIELDS)

SYSTEM = (
    "Eres AgroChat, asesor agrícola para pequeños productores. Responde en español, en dos o tres "
    "frases cortas para WhatsApp, usando SOLO la información del contexto. Si el contexto no "
    "tiene la respuesta, dilo y marca respondida en false; nunca inventes cifras. Si el productor "
    "da datos de su parcela, ponlos en actualizar_formulario. Responde con el JSON pedido."
)
CONTEXT = {
    "productor": {
        "nombre": "Juan Quispe",
        "cultivo": "papa",
        "variedad": "yungay",
        "fecha_siembra": "2026-09-15",
        "riego": "goteo",
        "ubicacion": "Huancayo",
    },
    "consejos": [
        "Papa: en tuberización riegue cada 7 a 10 días con 25 a 30 mm; evite encharcar.",
        "Papa: el tizón tardío aparece con humedad alta y 10 a 20 °C; revise hojas cada 3 días.",
        "Helada: si el pronóstico baja de 2 °C, riegue la tarde anterior.",
        "Fertilización papa: la mitad del nitrógeno a la siembra y la otra mitad al aporque.",
    ],
}
QUESTIONS = [
    "¿Cada cuánto debo regar mi papa?",
    "Vi manchas oscuras en las hojas de la papa, ¿qué hago?",
    "¿Cuándo le echo el resto del fertilizante?",
    "Dicen que mañana va a helar, ¿cómo protejo la chacra?",
    "Ya sembré 2 hectáreas, ¿lo anotas?",
    "¿Qué precio tiene la papa en el mercado de Lima?",
    "Hola, buenos días",
    "¿Cuánta agua le pongo en cada riego?",
    "¿Cada cuántos días reviso las hojas por el tizón?",
    "Quiero hablar con un técnico, por favor.",
]


def messages(question: str, history: list[dict[str, str]] | None = None) -> tuple:
    system = SYSTEM + "\n\nContexto:\n" + json.dumps(CONTEXT, ensure_ascii=False)
    return (
        {"role": "system", "content": system},
        *(history or []),
        {"role": "user", "content": question},
    )


@pytest.fixture
def peers(real_backend) -> FakePeers:
    ref = InferenceActor.start(
        CONFIG,
        status=ModelStatus(),
        backend_factory=lambda c: Borrowed(real_backend),
        stats=InferenceStats(),
    )
    return FakePeers(inference=ref)


@pytest.fixture
def client(peers) -> InferenceClient:
    return InferenceClient(peers, queue_limit=4)


def settle(peers: FakePeers) -> None:
    """Wait until the actor is idle (it prepares producers' next turns after replying): only
    one thread at a time may touch the model."""
    peers.ref("inference").ask(Inspect(), timeout=120)


def ask(client: InferenceClient, msgs: tuple, *, key: str | None = None, max_tokens: int = 128):
    return client.generate(
        InferenceRequest(
            messages=msgs,
            deadline=deadline_in(120),
            max_tokens=max_tokens,
            temperature=0.0,
            schema=SCHEMA,
            cache_key=key,
        )
    )


@pytest.mark.parametrize("question", QUESTIONS)
def test_real_model_answers_farmers_with_schema_valid_json(client, question):
    result = ask(client, messages(question))
    raw = json.loads(result.content)  # complete JSON even when max_tokens cut it
    if result.finish_reason == "stop":
        jsonschema.validate(raw, SCHEMA)  # the grammar held
    parsed = parse_output_detailed(result.content, FIELDS)
    jsonschema.validate(parsed.output, SCHEMA)
    assert parsed.answered, result.content
    assert len(parsed.output["respuesta_chat"]) >= 2
    assert result.metrics.generated_tokens > 0
    assert result.metrics.prompt_tokens > 200


def test_second_turn_reuses_the_producers_kv_and_answers_the_same(client, peers, real_backend):
    first = messages(QUESTIONS[0])
    turn1 = ask(client, first, key="producer-a", max_tokens=60)
    # Another producer in between: the live context no longer holds producer A's turn.
    other = (
        {"role": "system", "content": "Eres otro asesor."},
        {"role": "user", "content": "Otra consulta"},
    )
    ask(client, other, key="producer-b", max_tokens=8)
    history = [
        {"role": "user", "content": QUESTIONS[0]},
        {"role": "assistant", "content": turn1.content},
    ]
    second = messages("¿Y si llueve esa semana?", history)
    warm = ask(client, second, key="producer-a", max_tokens=60)
    assert warm.metrics.prompt_tokens_reused >= turn1.metrics.prompt_tokens
    settle(peers)
    real_backend.reset()  # nothing cached: the whole prompt is evaluated again
    cold = ask(client, second, key="producer-a", max_tokens=60)
    assert cold.metrics.prompt_tokens_reused == 0
    assert warm.content == cold.content


def test_cheap_grammar_check_writes_what_the_full_grammar_pass_writes(client, peers, real_backend):
    msgs = messages(QUESTIONS[4])
    settle(peers)
    real_backend.reset()
    fast = ask(client, msgs, max_tokens=80)
    settle(peers)
    real_backend.fast_grammar = False
    try:
        real_backend.reset()
        full = ask(client, msgs, max_tokens=80)
    finally:
        real_backend.fast_grammar = True
    assert fast.content == full.content
    assert real_backend.describe()["grammar_checks"] > 0
