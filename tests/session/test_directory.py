"""SessionDirectory + SessionActor: order per producer, concurrency across producers,
passivation, bounded live sessions, crash recovery, alerts in order with replies.

What a conversation answers is test_conversation.py's business; here each session holds a
scripted conversation that records what reached it, and can hold a message (an event) or fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pykka
import pytest

from agrochat import wording
from agrochat.actors.session import (
    Outcome,
    SessionActor,
    SessionDirectory,
    SessionGateway,
    Status,
)
from agrochat.errors import Overloaded
from agrochat.messages import Incoming, Inspect, PushAlert, Reply, Tick
from agrochat.model_output import build_output, canned_output
from agrochat.phones import chat_id
from tests.conftest import FakePeers
from tests.session.conftest import PHONE, incoming

OTHER = "51911222333"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Journal:
    """What every scripted conversation did, in order, across sessions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[tuple[str, str]] = []
        self.built: list[str] = []
        # text -> what to do before answering it (wait on an event, raise...)
        self.scripts: dict[str, Callable[[], None]] = {}

    def add(self, phone: str, what: str) -> None:
        with self.lock:
            self.entries.append((phone, what))

    def of(self, phone: str) -> list[str]:
        with self.lock:
            return [what for p, what in self.entries if p == phone]


class ScriptedConversation:
    def __init__(self, phone: str, journal: Journal) -> None:
        self.phone = phone
        self.journal = journal
        journal.built.append(phone)

    def handle(self, message: Incoming) -> Outcome:
        script = self.journal.scripts.get(message.text)
        if script is not None:
            script()
        self.journal.add(self.phone, message.text)
        output = build_output(role="consulta", text=f"respuesta a {message.text}")
        return Outcome(
            reply=Reply(phone=chat_id(self.phone), model_output=output), status=Status.ANSWERED
        )

    def fail(self, message: Incoming, error: BaseException) -> Outcome:
        self.journal.add(self.phone, f"apology for {message.text}")
        return Outcome(
            reply=Reply(
                phone=chat_id(self.phone), model_output=canned_output("consulta", wording.CRASHED)
            ),
            status=Status.FAILED,
            error=f"{type(error).__name__}: {error}",
        )

    def update_form(
        self, values: dict[str, str], *, source: str, author: str | None = None
    ) -> dict[str, Any]:
        self.journal.add(self.phone, f"form {sorted(values.items())}")
        return {"phone": chat_id(self.phone), "fields": dict(values), "campos_faltantes": []}

    def push_alert(self, alert_id: int, text: str) -> int:
        self.journal.add(self.phone, f"alert {alert_id}")
        return alert_id

    def snapshot(self) -> dict[str, Any]:
        return {"producer": self.phone}


def route(directory: pykka.ActorRef[Any], message: Any) -> pykka.Future[Any]:
    """Hand a message to the directory as HTTP does: its answer is the session's future."""
    return directory.ask(message, block=False)


def answer(directory: pykka.ActorRef[Any], message: Any) -> Any:
    return route(directory, message).get(timeout=5).get(timeout=10)


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def start_directory(journal: Journal, config):
    def start(*, clock=None, factory=None, **config_changes) -> pykka.ActorRef[Any]:
        cfg = config.replace(**config_changes) if config_changes else config
        return SessionDirectory.start(
            cfg,
            peers=FakePeers(),
            conversation_factory=factory or (lambda phone: ScriptedConversation(phone, journal)),
            clock=clock or ManualClock(),
            tick_interval_s=None,
        )

    return start


def hold(journal: Journal, text: str) -> tuple[threading.Event, threading.Event]:
    """Make the conversation stop inside ``text`` until released."""
    started, release = threading.Event(), threading.Event()

    def script() -> None:
        started.set()
        assert release.wait(10)

    journal.scripts[text] = script
    return started, release


def test_second_message_waits_for_first_from_same_producer(start_directory, journal) -> None:
    started, release = hold(journal, "primero")
    directory = start_directory()
    first = route(directory, incoming("primero")).get(timeout=5)
    assert started.wait(5)
    second = route(directory, incoming("segundo")).get(timeout=5)
    # The second is queued in the same mailbox while the first is being answered.
    with pytest.raises(pykka.Timeout):
        second.get(timeout=0.05)
    release.set()
    assert first.get(timeout=5).model_output["respuesta_chat"] == "respuesta a primero"
    assert second.get(timeout=5).model_output["respuesta_chat"] == "respuesta a segundo"
    assert journal.of(PHONE) == ["primero", "segundo"]


def test_two_producers_are_answered_concurrently(start_directory, journal) -> None:
    # Both messages must be inside their conversations at the same moment to pass the barrier:
    # if the sessions ran one after the other, the barrier would time out and break.
    barrier = threading.Barrier(2, timeout=10)
    journal.scripts["hola"] = barrier.wait
    directory = start_directory()
    a = route(directory, incoming("hola", phone=PHONE)).get(timeout=5)
    b = route(directory, incoming("hola", phone=OTHER)).get(timeout=5)
    assert a.get(timeout=15).model_output["respuesta_chat"] == "respuesta a hola"
    assert b.get(timeout=15).model_output["respuesta_chat"] == "respuesta a hola"
    assert directory.ask(Inspect(), timeout=5)["live"] == 2


def test_phone_forms_reach_the_same_session(start_directory, journal) -> None:
    directory = start_directory()
    for phone in ("51987654321@c.us", "+51 987 654 321", "51987654321"):
        answer(directory, incoming("hola", phone=phone))
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["live"], snapshot["started"]) == (1, 1)
    assert journal.built == [PHONE]


def test_idle_session_is_passivated_and_the_next_message_starts_a_new_one(
    start_directory, journal
) -> None:
    clock = ManualClock()
    directory = start_directory(clock=clock, session_idle_s=10.0)
    answer(directory, incoming("primero"))
    # Let the directory take the session's SessionDone (told before the reply) before the clock
    # moves: it stamps the session's last use when it processes it.
    directory.ask(Inspect(), timeout=5)
    clock.now += 5
    directory.ask(Tick(at=0), timeout=5)
    assert directory.ask(Inspect(), timeout=5)["live"] == 1  # not idle long enough
    clock.now += 6
    (session,) = pykka.ActorRegistry.get_by_class(SessionActor)
    directory.ask(Tick(at=0), timeout=5)
    assert directory.ask(Inspect(), timeout=5)["live"] == 0
    assert session.actor_stopped.wait(5)

    answer(directory, incoming("segundo"))
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["started"], snapshot["passivated"]) == (2, 1)
    assert journal.built == [PHONE, PHONE]  # rebuilt from the database, as after a restart
    assert journal.of(PHONE) == ["primero", "segundo"]


def test_a_busy_session_is_not_passivated(start_directory, journal) -> None:
    clock = ManualClock()
    started, release = hold(journal, "hola")
    directory = start_directory(clock=clock, session_idle_s=10.0)
    reply = route(directory, incoming("hola")).get(timeout=5)
    assert started.wait(5)
    clock.now += 100
    directory.ask(Tick(at=0), timeout=5)
    assert directory.ask(Inspect(), timeout=5)["live"] == 1
    release.set()
    assert reply.get(timeout=5).model_output["respuesta_chat"] == "respuesta a hola"


def test_live_sessions_stay_bounded(start_directory) -> None:
    directory = start_directory(session_max=3)
    seen: dict[str, pykka.ActorRef[Any]] = {}
    for i in range(10):
        answer(directory, incoming("hola", phone=f"5198765{i:04d}"))
        seen.update((r.actor_urn, r) for r in pykka.ActorRegistry.get_by_class(SessionActor))
    snapshot = directory.ask(Inspect(), timeout=5)
    assert snapshot["live"] <= 3 and snapshot["peak"] <= 3
    assert snapshot["started"] == 10 and snapshot["passivated"] >= 7
    assert len(seen) == 10
    # A passivated session is told to stop; wait for each to finish stopping.
    passivated = [r for r in seen.values() if r not in pykka.ActorRegistry.get_all()]
    for ref in passivated:
        assert ref.actor_stopped.wait(5)
    assert len(passivated) >= 7
    assert len(pykka.ActorRegistry.get_by_class(SessionActor)) <= 3


def hold_sessions(directory: pykka.ActorRef[Any], journal: Journal, count: int) -> list[Any]:
    """``count`` producers, each with a message held inside its session; their releases and
    reply futures."""
    held = []
    for i in range(count):
        text = f"ocupado {i}"
        started, release = hold(journal, text)
        reply = route(directory, incoming(text, phone=f"5198700000{i}")).get(timeout=5)
        assert started.wait(5)
        held.append((release, reply))
    return held


def session_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("SessionActor"))


def test_with_every_session_busy_a_new_producer_waiting_for_a_reply_is_refused(
    start_directory, journal
) -> None:
    directory = start_directory(session_max=3)
    held = hold_sessions(directory, journal, 3)
    with pytest.raises(Overloaded):
        answer(directory, incoming("hola", phone=OTHER))
    assert session_threads() == 3
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["live"], snapshot["refused"], snapshot["started"]) == (3, 1, 3)
    for release, reply in held:
        release.set()
        reply.get(timeout=5)
    # Refused before any session saw it: the producer's conversation never had it.
    assert journal.of(OTHER) == []
    # Once a session is free the producer is answered, still within the cap.
    assert answer(directory, incoming("hola", phone=OTHER)).model_output["respuesta_chat"] == (
        "respuesta a hola"
    )
    assert directory.ask(Inspect(), timeout=5)["peak"] == 3


def test_with_every_session_busy_gateway_messages_wait_their_turn_and_are_answered_in_order(
    start_directory, journal
) -> None:
    directory = start_directory(session_max=3)
    held = hold_sessions(directory, journal, 3)
    directory.tell(incoming("¿riego?", phone=OTHER, source="waha", message_id="wamid.1"))
    directory.tell(PushAlert(alert_id=9, phone=OTHER, text="Helada"))
    directory.tell(incoming("¿y mañana?", phone=OTHER, source="waha", message_id="wamid.2"))
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["live"], snapshot["waiting"], snapshot["refused"]) == (3, 3, 0)
    assert session_threads() == 3
    assert journal.of(OTHER) == []
    busy = set(pykka.ActorRegistry.get_by_class(SessionActor))

    release, reply = held[0]
    release.set()
    reply.get(timeout=5)
    # The freed session told SessionDone before its reply: the directory has put it to sleep
    # and handed the waiting messages to a new session by the time it answers this.
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["live"], snapshot["waiting"], snapshot["peak"]) == (3, 0, 3)
    (other,) = set(pykka.ActorRegistry.get_by_class(SessionActor)) - busy
    other.ask(Inspect(), timeout=5)  # queued behind the three messages
    assert journal.of(OTHER) == ["¿riego?", "alert 9", "¿y mañana?"]
    for release, reply in held[1:]:
        release.set()
        reply.get(timeout=5)


def test_a_message_that_crashes_its_session_gets_an_apology_and_is_not_retried(
    start_directory, journal
) -> None:
    def crash() -> None:
        raise RuntimeError("bug in the conversation")

    journal.scripts["explota"] = crash
    directory = start_directory()
    reply = answer(directory, incoming("explota", message_id="wamid.boom"))
    assert reply.model_output["respuesta_chat"] == wording.CRASHED
    after = answer(directory, incoming("¿sigues ahí?"))
    assert after.model_output["respuesta_chat"] == "respuesta a ¿sigues ahí?"
    assert journal.of(PHONE) == ["apology for explota", "¿sigues ahí?"]
    # The conversation was rebuilt after the crash (its state may be what was wrong).
    assert journal.built == [PHONE, PHONE]
    snapshot = directory.ask(Inspect(), timeout=5)
    assert snapshot["failed"] == 1
    assert "bug in the conversation" in snapshot["recent_failures"][0]["error"]
    session = pykka.ActorRegistry.get_by_class(SessionActor)[0]
    assert session.ask(Inspect(), timeout=5)["restarts"] == 1


def test_a_dead_session_is_replaced_on_the_next_message(start_directory) -> None:
    directory = start_directory()
    answer(directory, incoming("hola"))
    pykka.ActorRegistry.get_by_class(SessionActor)[0].stop()
    reply = answer(directory, incoming("¿estás?"))
    assert reply.model_output["respuesta_chat"] == "respuesta a ¿estás?"
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["started"], snapshot["restarted"]) == (2, 1)


def test_an_alert_never_interleaves_with_a_reply_being_written(start_directory, journal) -> None:
    started, release = hold(journal, "¿riego hoy?")
    directory = start_directory()
    reply = route(directory, incoming("¿riego hoy?", source="waha")).get(timeout=5)
    assert started.wait(5)
    directory.tell(PushAlert(alert_id=7, phone=f"{PHONE}@c.us", text="Helada esta noche"))
    directory.ask(Inspect(), timeout=5)  # the directory has routed the alert
    assert journal.of(PHONE) == []  # queued behind the reply, not handled around it
    release.set()
    reply.get(timeout=5)
    session = pykka.ActorRegistry.get_by_class(SessionActor)[0]
    session.ask(Inspect(), timeout=5)  # the alert, queued before this ask, has been handled
    assert journal.of(PHONE) == ["¿riego hoy?", "alert 7"]


def test_gateway_converses_and_updates_forms_through_the_session(start_directory, journal) -> None:
    ref = start_directory()
    gateway = SessionGateway(FakePeers(sessions=ref), reply_timeout_s=10)
    reply = gateway.converse("+51 987 654 321", "hola", role="saludo")
    assert reply.phone == f"{PHONE}@c.us"
    assert reply.model_output["respuesta_chat"] == "respuesta a hola"
    state = gateway.update_form("51987654321@c.us", {"cultivo": "papa"})
    assert state["fields"] == {"cultivo": "papa"}
    assert journal.of(PHONE) == ["hola", "form [('cultivo', 'papa')]"]


def test_a_reply_that_takes_too_long_is_an_apology_and_the_session_keeps_the_message(
    start_directory, journal
) -> None:
    started, release = hold(journal, "lento")
    ref = start_directory()
    gateway = SessionGateway(FakePeers(sessions=ref), reply_timeout_s=0.2)
    reply = gateway.converse(PHONE, "lento")
    assert started.is_set()
    assert reply.model_output["respuesta_chat"] == wording.TIMEOUT
    release.set()
    pykka.ActorRegistry.get_by_class(SessionActor)[0].ask(Inspect(), timeout=5)
    assert journal.of(PHONE) == ["lento"]


def test_a_gateway_message_told_to_the_directory_is_handled(start_directory, journal) -> None:
    directory = start_directory()
    directory.tell(incoming("¿riego?", source="waha", message_id="false_519@c.us_AAA"))
    directory.ask(Inspect(), timeout=5)
    pykka.ActorRegistry.get_by_class(SessionActor)[0].ask(Inspect(), timeout=5)
    assert journal.of(PHONE) == ["¿riego?"]


def test_told_messages_that_cannot_be_routed_do_not_kill_the_directory(
    start_directory, journal
) -> None:
    def factory(phone: str) -> ScriptedConversation:
        if phone == OTHER:
            raise RuntimeError("cannot build this conversation")
        return ScriptedConversation(phone, journal)

    directory = start_directory(factory=factory)
    directory.tell(incoming("hola", phone="not a phone", source="waha"))
    directory.tell(incoming("hola", phone=OTHER, source="waha"))
    assert directory.ask(Inspect(), timeout=5)["live"] == 0
    reply = answer(directory, incoming("hola"))
    assert reply.model_output["respuesta_chat"] == "respuesta a hola"
