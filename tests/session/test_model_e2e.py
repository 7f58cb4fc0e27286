"""End to end with the REAL packaged model: a short registration conversation.

Producer -> SessionGateway -> SessionDirectory -> SessionActor -> InferenceClient ->
InferenceActor -> llama.cpp (Qwen2.5-Coder-0.5B-Instruct Q4_K_M), four turns. The model is
assembled once into ``<repo>/var/test-model/`` (shared with the inference e2e tests). A small
``max_tokens`` and context budget keep it around a minute on 2 cores.

What must hold whatever the small model writes: the seed's contract on every reply; each answer
to the question asked is validated, normalised and stored; the reply keeps asking for the next
missing field; history is stored with token counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agrochat.actors.inference import (
    InferenceActor,
    InferenceClient,
    InferenceStats,
    ModelStatus,
    make_backend,
    output_schema,
)
from agrochat.actors.session import (
    Conversation,
    Outgoing,
    SessionDirectory,
    SessionGateway,
    load_form,
)
from agrochat.config import Config
from agrochat.knowledge import KnowledgeBase, load_knowledge_seed
from agrochat.persistence import Database, KnowledgeStore, MessageStore, ProducerStore
from tests.conftest import FakePeers
from tests.session.conftest import FixedClock

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
CONFIG = Config(
    data_dir=str(REPO / "var" / "test-model"),
    model_ctx=2048,
    model_threads=2,
    # Generous: on a shared 2-core machine a turn has taken 140 s; this checks behaviour, not speed.
    reply_timeout_s=400.0,
)
PHONE = "51987654321"
FORM = load_form("perfil")
SCHEMA = output_schema(FORM.names)
# What a producer answers to each question agrochat asks.
ANSWERS = {
    "nombre": "Me llamo Juan Quispe",
    "cultivo": "papa",
    "area_ha": "2 hectáreas",
    "distrito": "Huancayo",
    "fecha_siembra": "el 15 de octubre",
    "tipo_riego": "por goteo",
}
EXPECTED = {
    "nombre": "Juan Quispe",
    "cultivo": "papa",
    "area_ha": "2",
    "distrito": "Huancayo",
    "fecha_siembra": "2025-10-15",
    "tipo_riego": "goteo",
}


@pytest.fixture(scope="module")
def real_backend() -> Iterator[Any]:
    backend = make_backend(CONFIG)  # assembles the packaged model on the first run
    yield backend
    backend.close()


class Borrowed:
    """The module's backend lent to one actor: stopping the actor must not close it."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.kind = backend.kind

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        return self.backend.complete(*args, **kwargs)

    def describe(self) -> dict[str, Any]:
        return self.backend.describe()

    def close(self) -> None:
        pass


def test_registration_conversation_with_the_real_model(
    real_backend: Any, sqlite_database: Database
) -> None:
    db = sqlite_database
    KnowledgeStore(db).seed_if_empty(load_knowledge_seed())
    status = ModelStatus()
    inference_ref = InferenceActor.start(
        CONFIG,
        status=status,
        backend_factory=lambda c: Borrowed(real_backend),
        stats=InferenceStats(),
    )
    peers = FakePeers(inference=inference_ref)
    client = InferenceClient(peers, queue_limit=4, status=status)
    knowledge = KnowledgeBase(KnowledgeStore(db))
    clock = FixedClock()  # 2026-03-10: "15 de octubre" is 2025-10-15

    def conversation(phone: str) -> Conversation:
        return Conversation(
            phone,
            config=CONFIG,
            database=db,
            inference=client,
            form=FORM,
            knowledge=knowledge,
            outgoing=Outgoing(db, None),
            clock=clock,
            max_tokens=80,
            context_tokens=800,
        )

    directory = SessionDirectory.start(
        CONFIG,
        peers=peers,
        conversation_factory=conversation,
        tick_interval_s=None,
    )
    peers.refs["sessions"] = directory
    gateway = SessionGateway(peers, reply_timeout_s=CONFIG.reply_timeout_s)

    text = "Hola, buenos días"
    stored_before: dict[str, str] = {}
    for turn in range(4):
        reply = gateway.converse(f"{PHONE}@c.us", text, role="registro")
        output = reply.model_output
        jsonschema.validate(output, SCHEMA)
        respuesta = output["respuesta_chat"]
        assert respuesta.strip(), output
        producer = ProducerStore(db).get(PHONE)
        assert producer is not None
        fields = ProducerStore(db).fields(producer.id)
        # Whatever the model proposed, only validated, normalised values were stored.
        for name, value in fields.items():
            if FORM.get(name).type == "text":  # type: ignore[union-attr]
                # The model may pass on part of a name ("Juan"): it must be what was written.
                assert value.lower() in ANSWERS[name].lower(), (name, value, respuesta)
            else:
                assert value == EXPECTED[name], (name, value, respuesta)
        assert set(stored_before) <= set(fields)
        if turn > 0:
            # The producer answered the question asked: that field is now stored.
            assert asked in fields, (asked, respuesta)  # noqa: F821 (set below)
        missing = FORM.missing(fields)
        assert output["estado"]["campos_faltantes"] == missing
        nxt = FORM.next_missing(fields)
        assert nxt is not None  # six required fields cannot all be done in four turns
        assert respuesta.endswith(nxt.question), respuesta
        asked = nxt.name
        text = ANSWERS[asked]
        stored_before = fields

    producer = ProducerStore(db).get(PHONE)
    assert producer is not None and producer.name and producer.name in "Juan Quispe"
    history = MessageStore(db).history(producer.id, limit=20).messages
    assert [m.direction for m in history] == ["in", "out"] * 4
    replies = [m for m in history if m.direction == "out"]
    assert all(m.prompt_tokens and m.completion_tokens for m in replies)
    assert all(m.latency_ms is not None for m in replies)
    assert all(m.status == "answered" for m in history if m.direction == "in")
