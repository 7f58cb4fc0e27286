"""Test doubles for conversations: a scripted model, a fixed clock, a recording gateway, and a
conversation wired like production's on a database migrated with the vetted seed."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from agrochat import wiring
from agrochat.actors.session import Clock, Conversation, Delivery, load_form
from agrochat.config import Config
from agrochat.knowledge import KnowledgeBase
from agrochat.messages import (
    Incoming,
    InferenceMetrics,
    InferenceRequest,
    InferenceResult,
    Send,
)
from agrochat.persistence import Database

PHONE = "51987654321"


def reading_json(intencion: str = "pregunta", opcion: int = 1) -> str:
    """What the model returns when asked to classify (``_prompt.SCHEMA``)."""
    return json.dumps({"intencion": intencion, "opcion": opcion})


Respond = Callable[[InferenceRequest], "str | BaseException"]


class FakeInference:
    """Answers with ``respond(request)`` (a JSON string, or an exception to raise)."""

    def __init__(self, respond: Respond | None = None) -> None:
        self.respond: Respond = respond or (lambda request: reading_json())
        self.requests: list[InferenceRequest] = []
        self._lock = threading.Lock()

    def generate(self, request: InferenceRequest) -> InferenceResult:
        with self._lock:
            self.requests.append(request)
        out = self.respond(request)
        if isinstance(out, BaseException):
            raise out
        return InferenceResult(
            content=out,
            finish_reason="stop",
            metrics=InferenceMetrics(
                queue_wait_s=0.0,
                prompt_tokens=120,
                prompt_tokens_reused=80,
                generated_tokens=30,
                time_to_first_token_s=0.001,
                total_s=0.002,
            ),
        )

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)


class FixedClock(Clock):
    def __init__(self, now: dt.datetime = dt.datetime(2026, 3, 10, 15, 0)) -> None:
        super().__init__("America/Lima")
        self.now = now

    def utcnow(self) -> dt.datetime:
        return self.now

    def today(self) -> dt.date:
        return (self.now - dt.timedelta(hours=5)).date()


class RecordingSend:
    def __init__(self) -> None:
        self.sent: list[Send] = []

    def __call__(self, message: Send) -> None:
        self.sent.append(message)


def incoming(
    text: str,
    *,
    phone: str = PHONE,
    message_id: str | None = None,
    role: str | None = "consulta",
    source: str = "api",
    timeout_s: float = 30.0,
) -> Incoming:
    return Incoming(
        phone=phone,
        text=text,
        received_at=time.time(),
        deadline=time.monotonic() + timeout_s,
        source=source,
        message_id=message_id,
        role=role,
    )


@pytest.fixture
def config() -> Config:
    return Config(data_dir="var-test", session_idle_s=600.0)


def knowledge_base(database: Database) -> KnowledgeBase:
    return wiring.knowledge_base(database, load_form("perfil"))


class ConversationFactory:
    def __init__(self, database: Database, config: Config) -> None:
        self.database = database
        self.config = config
        self.knowledge = knowledge_base(database)

    def __call__(
        self,
        phone: str = PHONE,
        *,
        inference: Any = None,
        clock: Clock | None = None,
        send: Callable[[Send], None] | None = None,
        **kwargs: Any,
    ) -> Conversation:
        return Conversation(
            phone,
            config=self.config,
            database=self.database,
            inference=inference or FakeInference(),
            form=load_form("perfil"),
            knowledge=self.knowledge,
            delivery=Delivery(self.database, send),
            clock=clock or FixedClock(),
            **kwargs,
        )


@pytest.fixture
def make_conversation(sqlite_database: Database, config: Config) -> ConversationFactory:
    return ConversationFactory(sqlite_database, config)
