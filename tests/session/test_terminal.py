"""agrochat chat: a terminal conversation through the same directory -> session path."""

from __future__ import annotations

import io

from agrochat.actors.session import SessionDirectory, SessionGateway
from agrochat.persistence import MessageStore, ProducerStore
from agrochat.terminal import run_terminal_chat
from tests.conftest import FakePeers
from tests.session.conftest import PHONE


def test_terminal_chat_talks_as_the_producer_and_stores_history(make_conversation, config) -> None:
    directory = SessionDirectory.start(
        config,
        peers=FakePeers(),
        conversation_factory=lambda phone: make_conversation(phone),
        tick_interval_s=None,
    )
    gateway = SessionGateway(FakePeers(sessions=directory), reply_timeout_s=10)
    stdin = io.StringIO("hola\n\nJuan Pérez\n/salir\nesto no se envía\n")
    stdout = io.StringIO()
    status = run_terminal_chat(
        config, "+51 987 654 321", stdin=stdin, stdout=stdout, gateway=gateway
    )
    assert status == 0
    text = stdout.getvalue()
    assert "Conversando como 51987654321@c.us" in text
    assert text.count("agrochat> ") == 2
    assert "¿Cómo te llamas?" in text
    assert "Anoté nombre: Juan Pérez." in text
    producer = ProducerStore(make_conversation.database).get(PHONE)
    assert producer is not None and producer.name == "Juan Pérez"
    history = MessageStore(make_conversation.database).history(producer.id, limit=10)
    assert [m.text for m in history.messages if m.direction == "in"] == ["hola", "Juan Pérez"]


def test_terminal_chat_refuses_an_invalid_phone(config) -> None:
    stdout = io.StringIO()
    assert run_terminal_chat(config, "abc", stdin=io.StringIO(""), stdout=stdout) == 2
    assert "teléfono inválido" in stdout.getvalue()
