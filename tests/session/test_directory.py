"""SessionDirectory + SessionActor: order per producer, concurrency across producers,
passivation, bounded live sessions, crash recovery, alerts in order with replies."""

from __future__ import annotations

import json
import threading
from typing import Any

import pykka
import pytest

from agrochat.actors.session import (
    CRASHED,
    SessionActor,
    SessionDirectory,
    SessionGateway,
)
from agrochat.errors import Overloaded
from agrochat.messages import InferenceRequest, Inspect, PushAlert, Send, Tick
from agrochat.persistence import AlertStore, MessageStore, ProducerStore
from tests.conftest import FakePeers
from tests.session.conftest import PHONE, FakeInference, incoming, model_json

OTHER = "51911222333"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SendLog:
    def __init__(self) -> None:
        self.sent: list[Send] = []
        self.event = threading.Event()

    def __call__(self, message: Send) -> None:
        self.sent.append(message)
        self.event.set()


def route(directory: pykka.ActorRef[Any], message: Any) -> pykka.Future[Any]:
    """Hand a message to the directory as HTTP does: its answer is the session's future."""
    return directory.ask(message, block=False)


def asked(request: InferenceRequest) -> str:
    return json.loads(request.messages[1]["content"].removeprefix("CONTEXTO:\n"))["mensaje"]


def context_of(request: InferenceRequest) -> dict[str, Any]:
    return json.loads(request.messages[1]["content"].removeprefix("CONTEXTO:\n"))


@pytest.fixture
def start_directory(make_conversation, config):
    def start(inference: FakeInference, *, send=None, clock=None, **config_changes):
        cfg = config.replace(**config_changes) if config_changes else config
        make_conversation.config = cfg
        ref = SessionDirectory.start(
            cfg,
            peers=FakePeers(),
            conversation_factory=lambda phone: make_conversation(
                phone, inference=inference, send=send
            ),
            clock=clock or ManualClock(),
            tick_interval_s=None,
        )
        return ref, ref

    return start


def test_second_message_waits_for_first_from_same_producer(start_directory) -> None:
    started, release = threading.Event(), threading.Event()

    def respond(request: InferenceRequest) -> str:
        if asked(request) == "primero":
            started.set()
            assert release.wait(10)
        return model_json(f"respuesta a {asked(request)}")

    inference = FakeInference(respond)
    _, directory = start_directory(inference)
    first = route(directory, incoming("primero")).get(timeout=5)
    assert started.wait(5)
    second = route(directory, incoming("segundo")).get(timeout=5)
    # The second is queued in the same mailbox while the first is with the model.
    with pytest.raises(pykka.Timeout):
        second.get(timeout=0)
    assert inference.calls == 1
    release.set()
    assert "respuesta a primero" in first.get(timeout=5).model_output["respuesta_chat"]
    assert "respuesta a segundo" in second.get(timeout=5).model_output["respuesta_chat"]
    assert [asked(r) for r in inference.requests] == ["primero", "segundo"]
    # And it was answered knowing the first exchange.
    history = [h["texto"] for h in context_of(inference.requests[1])["historial"]]
    assert history[0] == "primero" and "respuesta a primero" in history[1]


def test_two_producers_are_answered_concurrently(start_directory) -> None:
    # Both requests must be inside the model at the same moment to pass the barrier: if the
    # sessions ran one after the other, the barrier would time out and break.
    barrier = threading.Barrier(2, timeout=10)

    def respond(request: InferenceRequest) -> str:
        barrier.wait()
        return model_json("ok")

    inference = FakeInference(respond)
    _, directory = start_directory(inference)
    a = route(directory, incoming("hola", phone=PHONE)).get(timeout=5)
    b = route(directory, incoming("hola", phone=OTHER)).get(timeout=5)
    assert "ok" in a.get(timeout=15).model_output["respuesta_chat"]
    assert "ok" in b.get(timeout=15).model_output["respuesta_chat"]
    assert directory.ask(Inspect(), timeout=5)["live"] == 2


def test_phone_forms_reach_the_same_session(start_directory) -> None:
    inference = FakeInference()
    _, directory = start_directory(inference)
    for phone in ("51987654321@c.us", "+51 987 654 321", "51987654321"):
        route(directory, incoming("hola", phone=phone)).get(timeout=5).get(timeout=5)
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["live"], snapshot["started"]) == (1, 1)


def test_idle_session_is_passivated_and_reactivation_keeps_history(start_directory) -> None:
    clock = ManualClock()
    inference = FakeInference(lambda r: model_json(f"respuesta a {asked(r)}"))
    _, directory = start_directory(inference, clock=clock, session_idle_s=10.0)
    route(directory, incoming("primero")).get(timeout=5).get(timeout=5)
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

    route(directory, incoming("segundo")).get(timeout=5).get(timeout=5)
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["started"], snapshot["passivated"]) == (2, 1)
    history = [h["texto"] for h in context_of(inference.requests[-1])["historial"]]
    assert history[0] == "primero" and "respuesta a primero" in history[1]


def test_a_busy_session_is_not_passivated(start_directory) -> None:
    clock = ManualClock()
    started, release = threading.Event(), threading.Event()

    def respond(request: InferenceRequest) -> str:
        started.set()
        assert release.wait(10)
        return model_json()

    _, directory = start_directory(FakeInference(respond), clock=clock, session_idle_s=10.0)
    reply = route(directory, incoming("hola")).get(timeout=5)
    assert started.wait(5)
    clock.now += 100
    directory.ask(Tick(at=0), timeout=5)
    assert directory.ask(Inspect(), timeout=5)["live"] == 1
    release.set()
    assert reply.get(timeout=5).model_output["respuesta_chat"]


def test_live_sessions_stay_bounded(start_directory) -> None:
    inference = FakeInference()
    _, directory = start_directory(inference, session_max=3)
    seen: dict[str, pykka.ActorRef[Any]] = {}
    for i in range(10):
        route(directory, incoming("hola", phone=f"5198765{i:04d}")).get(timeout=5).get(timeout=5)
        seen.update((r.actor_urn, r) for r in pykka.ActorRegistry.get_by_class(SessionActor))
    snapshot = directory.ask(Inspect(), timeout=5)
    assert snapshot["live"] <= 3 and snapshot["peak"] <= 3
    assert snapshot["started"] == 10 and snapshot["passivated"] >= 7
    assert len(seen) == 10
    stopped = [r for r in seen.values() if not r.is_alive()]
    assert len(stopped) >= 7
    for ref in stopped:
        assert ref.actor_stopped.wait(5)
    assert len(pykka.ActorRegistry.get_by_class(SessionActor)) <= 3


def test_a_message_that_crashes_its_session_gets_an_apology_and_is_not_retried(
    start_directory, make_conversation
) -> None:
    def respond(request: InferenceRequest) -> str:
        if asked(request) == "explota":
            raise RuntimeError("bug in the conversation")
        return model_json("todo bien")

    inference = FakeInference(respond)
    _, directory = start_directory(inference)
    reply = (
        route(directory, incoming("explota", message_id="wamid.boom")).get(timeout=5).get(timeout=5)
    )
    assert reply.model_output["respuesta_chat"] == CRASHED
    calls = inference.calls
    after = route(directory, incoming("¿sigues ahí?")).get(timeout=5).get(timeout=5)
    assert "todo bien" in after.model_output["respuesta_chat"]
    assert inference.calls == calls + 1  # the crashing message was not retried
    stored = MessageStore(make_conversation.database).by_gateway_id("wamid.boom")
    assert stored is not None and stored.status == "failed"
    snapshot = directory.ask(Inspect(), timeout=5)
    assert snapshot["failed"] == 1
    assert "bug in the conversation" in snapshot["recent_failures"][0]["error"]
    session = pykka.ActorRegistry.get_by_class(SessionActor)[0]
    assert session.ask(Inspect(), timeout=5)["restarts"] == 1


def test_a_dead_session_is_replaced_on_the_next_message(start_directory) -> None:
    inference = FakeInference()
    _, directory = start_directory(inference)
    route(directory, incoming("hola")).get(timeout=5).get(timeout=5)
    pykka.ActorRegistry.get_by_class(SessionActor)[0].stop()
    reply = route(directory, incoming("¿estás?")).get(timeout=5).get(timeout=5)
    assert reply.model_output["respuesta_chat"]
    snapshot = directory.ask(Inspect(), timeout=5)
    assert (snapshot["started"], snapshot["restarted"]) == (2, 1)


def test_an_alert_never_interleaves_with_a_reply_being_written(
    start_directory, make_conversation
) -> None:
    alert_id = AlertStore(make_conversation.database).create(
        phone=PHONE, message="Helada esta noche", level="alta", source="admin"
    )
    started, release = threading.Event(), threading.Event()

    def respond(request: InferenceRequest) -> str:
        started.set()
        assert release.wait(10)
        return model_json("Riega por la tarde.")

    send = SendLog()
    ref, directory = start_directory(FakeInference(respond), send=send)
    route(directory, incoming("¿riego hoy?", source="waha")).get(timeout=5)
    assert started.wait(5)
    ref.tell(PushAlert(alert_id=alert_id, phone=f"{PHONE}@c.us", text="Helada esta noche"))
    directory.ask(Inspect(), timeout=5)  # the directory has routed the alert
    assert send.sent == []  # queued behind the reply, not sent around it
    release.set()
    for _ in range(2):
        assert send.event.wait(5)
        send.event.clear()
        if len(send.sent) == 2:
            break
    assert "Riega por la tarde." in send.sent[0].text
    assert (send.sent[1].text, send.sent[1].alert_id) == ("Helada esta noche", alert_id)


def test_deferred_messages_are_answered_on_a_later_tick(start_directory, make_conversation) -> None:
    busy = {"on": True}
    inference = FakeInference(
        lambda r: Overloaded("full") if busy["on"] else model_json("Ya te respondo: riega mañana.")
    )
    send = SendLog()
    clock = ManualClock()
    _, directory = start_directory(inference, send=send, clock=clock, session_idle_s=10.0)
    held = route(directory, incoming("¿Cuándo riego?")).get(timeout=5).get(timeout=5)
    assert "Estoy atendiendo muchas consultas" in held.model_output["respuesta_chat"]
    assert directory.ask(Inspect(), timeout=5)["deferred"] == 1
    clock.now += 100
    directory.ask(Tick(at=0), timeout=5)
    # The retry the tick asked for has run once this ask (queued behind it) returns.
    (session,) = pykka.ActorRegistry.get_by_class(SessionActor)
    assert session.ask(Inspect(), timeout=5)["deferred"] == 1
    assert inference.calls == 2 and send.sent == []
    # Not passivated while it holds an unanswered message.
    assert directory.ask(Inspect(), timeout=5)["live"] == 1
    busy["on"] = False
    directory.ask(Tick(at=0), timeout=5)
    assert send.event.wait(5)
    assert "Ya te respondo" in send.sent[-1].text
    producer = ProducerStore(make_conversation.database).get(PHONE)
    assert (
        MessageStore(make_conversation.database).unanswered(producer.id, since=producer.created_at)
        == []
    )  # type: ignore[union-attr]


def test_gateway_converses_and_updates_forms_through_the_session(start_directory) -> None:
    inference = FakeInference(lambda r: model_json("Hola.", role="saludo"))
    ref, _ = start_directory(inference)
    gateway = SessionGateway(FakePeers(sessions=ref), reply_timeout_s=10)
    reply = gateway.converse("+51 987 654 321", "hola", role="saludo")
    assert reply.phone == f"{PHONE}@c.us"
    assert reply.model_output["role"] == "saludo"
    state = gateway.update_form("51987654321@c.us", {"cultivo": "papa", "area_ha": "2"})
    assert state["fields"] == {"cultivo": "papa", "area_ha": "2"}
    assert state["campos_faltantes"] == ["nombre", "distrito", "fecha_siembra", "tipo_riego"]


def test_a_gateway_message_told_to_the_directory_is_answered_through_the_outbox(
    start_directory,
) -> None:
    send = SendLog()
    ref, _ = start_directory(FakeInference(lambda r: model_json("Riega mañana.")), send=send)
    ref.tell(incoming("¿riego?", source="waha", message_id="false_519@c.us_AAA"))
    assert send.event.wait(5)
    assert "Riega mañana." in send.sent[0].text


def test_told_messages_that_cannot_be_routed_do_not_kill_the_directory(
    make_conversation, config
) -> None:
    def factory(phone: str):
        if phone == OTHER:
            raise RuntimeError("cannot build this conversation")
        return make_conversation(phone, inference=FakeInference())

    ref = SessionDirectory.start(
        config,
        peers=FakePeers(),
        conversation_factory=factory,
        tick_interval_s=None,
    )
    ref.tell(incoming("hola", phone="not a phone", source="waha"))
    ref.tell(incoming("hola", phone=OTHER, source="waha"))
    assert ref.ask(Inspect(), timeout=5)["live"] == 0
    reply = route(ref, incoming("hola")).get(timeout=5).get(timeout=5)
    assert reply.model_output["respuesta_chat"]
