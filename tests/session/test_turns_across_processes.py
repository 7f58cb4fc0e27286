"""One producer, two agrochat processes on one PostgreSQL: each process has its own
SessionDirectory and its own ProducerLocks (its own connections), as two ``agrochat serve`` do.
A producer's messages are answered one at a time and in the order they were stored, whichever
process they landed on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agrochat import wording
from agrochat.actors.session import SessionDirectory
from agrochat.errors import Overloaded
from agrochat.messages import Inspect
from agrochat.persistence import Database, MessageStore, ProducerLocks, ProducerStore, open_database
from tests.conftest import FakePeers
from tests.session.conftest import PHONE, ConversationFactory, RecordingSend, incoming
from tests.session.test_conversation import PROFILE
from tests.session.test_directory import Journal, ScriptedConversation, answer, hold, route

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[Database]:
    db = open_database(postgres_url)
    yield db
    db.close()


@pytest.fixture
def two_processes(postgres_url: str, config) -> Iterator[Any]:
    """Two directories with scripted conversations sharing one journal, each with its locks."""
    journal = Journal()
    locks = [ProducerLocks(postgres_url), ProducerLocks(postgres_url)]
    directories = [
        SessionDirectory.start(
            config,
            peers=FakePeers(),
            conversation_factory=lambda phone: ScriptedConversation(phone, journal),
            tick_interval_s=None,
            locks=lock,
        )
        for lock in locks
    ]
    yield journal, directories, locks
    for directory in directories:
        directory.stop()
    for lock in locks:
        lock.close()


def test_a_producer_busy_on_one_process_waits_on_the_other(two_processes) -> None:
    journal, (first, second), (first_locks, _) = two_processes
    started, release = hold(journal, "primero")
    pending = route(first, incoming("primero")).get(timeout=5)
    assert started.wait(10)
    # Another producer on the second process is not held up by the first one's turn.
    assert answer(second, incoming("hola", phone="51911222333")) is not None
    later = route(second, incoming("segundo")).get(timeout=5)
    assert first_locks.held() == [PHONE]
    release.set()
    pending.get(timeout=10)
    later.get(timeout=10)
    assert journal.of(PHONE) == ["primero", "segundo"]


def test_a_turn_not_free_before_the_callers_deadline_is_refused_as_overloaded(
    two_processes,
) -> None:
    journal, (first, second), _ = two_processes
    started, release = hold(journal, "primero")
    pending = route(first, incoming("primero")).get(timeout=5)
    assert started.wait(10)
    with pytest.raises(Overloaded):
        route(second, incoming("segundo", timeout_s=0.3)).get(timeout=5).get(timeout=10)
    release.set()
    pending.get(timeout=10)
    # Nothing of the refused message reached a conversation: its caller retries it.
    assert journal.of(PHONE) == ["primero"]
    assert second.ask(Inspect(), timeout=5)["locks"]["timeouts"] == 1


def test_a_message_stored_on_another_process_first_is_answered_first(
    pg_database: Database, config
) -> None:
    """Webhooks for one producer landed on two processes: the first stored message goes first,
    wherever its turn comes first; the later turn finds it answered and sends nothing twice."""
    make = ConversationFactory(pg_database, config)
    producers = ProducerStore(pg_database)
    producer, _ = producers.get_or_create(PHONE)
    producers.set_fields(producer.id, PROFILE, source="api")
    producers.update(producer.id, name="Rosa Quispe", status="activo")
    send = RecordingSend()
    here, there = make(send=send, shared=True), make(send=send, shared=True)
    # This process answered Rosa before: its session is active (recovered once already).
    here.handle(incoming("hola", message_id="wamid.0", source="cloud"))
    messages = MessageStore(pg_database)
    first = messages.add_inbound(producer.id, "¿cómo controlo la rancha?", gateway_message_id="w1")
    messages.add_inbound(producer.id, "gracias", gateway_message_id="w2")

    # The second message's turn comes first, on this process.
    here.handle(incoming("gracias", message_id="w2", source="cloud"))
    replies = [s.text for s in send.sent[1:]]
    assert len(replies) == 2 and "rancha" in replies[0].lower()
    assert replies[1] == wording.THANKS.format(name=", Rosa")
    # The first message's own turn, on the other process: answered already, replayed.
    outcome = there.handle(incoming("¿cómo controlo la rancha?", message_id="w1", source="cloud"))
    assert outcome.status.value == "replayed"
    assert len(send.sent) == 3
    assert messages.latest_reply(first.id) is not None
