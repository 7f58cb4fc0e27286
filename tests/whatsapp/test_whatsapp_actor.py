"""WhatsAppActor and OutboxSender: the outbox goes out once, failures are kept and reported."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pykka
from freezegun import freeze_time

from agrochat.actors.whatsapp import Channels, ConsoleTransport, OutboxSender, TransportError
from agrochat.config import Config
from agrochat.messages import Delivered, DeliveryFailed, DrainOutbox, Inspect, Send
from agrochat.persistence import AlertStore, Database, OutboxStore
from tests.alerts._data import add_producer
from tests.alerts._fakes import FakePeers, RecordingTransport, start_whatsapp

PHONE = "51987654321"
CONFIG = Config(whatsapp="console", alert_tick_s=3600)
T0 = dt.datetime(2026, 3, 2, 15, 0, 0)


class _Recorder(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def on_receive(self, message: Any) -> None:
        self.messages.append(message)

    def received(self) -> list[Any]:
        return list(self.messages)


def _alert(db: Database) -> int:
    return AlertStore(db).create(phone=PHONE, message="Helada", level="alta", source="api")


def _start(db: Database, transport: Any) -> tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]]:
    peers = FakePeers()
    peers.refs["alerts"] = _Recorder.start()
    whatsapp = start_whatsapp(CONFIG, db, transport, peers)
    peers.refs["whatsapp"] = whatsapp
    return whatsapp, peers.refs["alerts"]


def test_send_marks_the_row_sent_and_tells_the_scheduler(sqlite_database: Database) -> None:
    db = sqlite_database
    add_producer(db, PHONE)
    alert_id = _alert(db)
    oid = OutboxStore(db).enqueue(PHONE, "Helada", alert_id=alert_id)
    transport = RecordingTransport()
    whatsapp, alerts = _start(db, transport)
    whatsapp.tell(Send(outbox_id=oid, phone=PHONE, text="Helada", alert_id=alert_id))
    whatsapp.ask(Inspect(), timeout=10)
    assert transport.sent == [(PHONE, "Helada", None)]
    row = OutboxStore(db).get(oid)
    assert row is not None and row.status == "sent" and row.gateway_message_id == "gw_1"
    assert alerts.proxy().received().get(timeout=10) == [
        Delivered(outbox_id=oid, gateway_message_id="gw_1", alert_id=alert_id)
    ]


def test_a_second_send_of_the_same_row_sends_nothing(sqlite_database: Database) -> None:
    db = sqlite_database
    oid = OutboxStore(db).enqueue(PHONE, "Hola")
    transport = RecordingTransport()
    whatsapp, _ = _start(db, transport)
    for _ in range(3):
        whatsapp.tell(Send(outbox_id=oid, phone=PHONE, text="Hola"))
    whatsapp.ask(Inspect(), timeout=10)
    assert transport.sent == [(PHONE, "Hola", None)]


def test_on_start_it_drains_rows_a_crash_left_in_the_outbox(sqlite_database: Database) -> None:
    db = sqlite_database
    outbox = OutboxStore(db)
    ids = [outbox.enqueue(PHONE, f"m{i}") for i in range(3)]
    transport = RecordingTransport(expect=3)
    whatsapp, _ = _start(db, transport)
    assert transport.done.wait(10)
    whatsapp.ask(Inspect(), timeout=10)
    assert [text for _, text, _ in transport.sent] == ["m0", "m1", "m2"]
    assert all(outbox.get(i).status == "sent" for i in ids)  # type: ignore[union-attr]


def test_a_reply_that_failed_retryably_goes_out_on_a_later_drain(
    sqlite_database: Database,
) -> None:
    db = sqlite_database
    outbox = OutboxStore(db)
    transport = RecordingTransport(fail_with=TransportError("session STARTING", retryable=True))
    sender = OutboxSender(outbox, Channels.single(transport))
    with freeze_time(T0) as clock:
        oid = outbox.enqueue(PHONE, "Hola")
        outcome = sender.send(oid)
        assert outcome == DeliveryFailed(outbox_id=oid, error="session STARTING", retryable=True)
        assert outbox.get(oid).status == "pending"  # type: ignore[union-attr]
        transport.fail_with = None
        assert sender.drain() == []  # still backing off
        clock.tick(15)
        assert [type(o) for o in sender.drain()] == [Delivered]
    assert transport.sent == [(PHONE, "Hola", None)]


def test_a_failed_alert_row_is_closed_and_the_retry_left_to_the_scheduler(
    sqlite_database: Database,
) -> None:
    db = sqlite_database
    add_producer(db, PHONE)
    alert_id = _alert(db)
    outbox = OutboxStore(db)
    oid = outbox.enqueue(PHONE, "Helada", alert_id=alert_id)
    transport = RecordingTransport(fail_with=TransportError("WAHA error 500", retryable=True))
    whatsapp, alerts = _start(db, transport)
    whatsapp.tell(Send(outbox_id=oid, phone=PHONE, text="Helada", alert_id=alert_id))
    whatsapp.ask(Inspect(), timeout=10)
    assert outbox.get(oid).status == "failed"  # type: ignore[union-attr]
    assert alerts.proxy().received().get(timeout=10) == [
        DeliveryFailed(outbox_id=oid, error="WAHA error 500", alert_id=alert_id, retryable=True)
    ]


def test_a_transport_bug_keeps_the_message_and_the_actor(sqlite_database: Database) -> None:
    class Buggy:
        name = "buggy"

        def send(self, phone: str, text: str, *, template: str | None = None) -> str:
            raise KeyError("oops")

        def close(self) -> None:
            pass

    db = sqlite_database
    oid = OutboxStore(db).enqueue(PHONE, "Hola")
    whatsapp, _ = _start(db, Buggy())
    whatsapp.tell(DrainOutbox(at=0))
    snapshot = whatsapp.ask(Inspect(), timeout=10)
    assert whatsapp.is_alive() and snapshot["failed"] >= 1
    assert OutboxStore(db).get(oid).status == "pending"  # type: ignore[union-attr]


def test_template_alerts_are_sent_with_the_configured_template(sqlite_database: Database) -> None:
    db = sqlite_database
    add_producer(db, PHONE)
    alerts = AlertStore(db)
    alert_id = _alert(db)
    # As the scheduler does: claim, then hand on as a template.
    assert [a.id for a in alerts.claim_due(limit=1, lease_s=60, claimed_by="t")] == [alert_id]
    assert alerts.record_push(alert_id, "template")
    outbox = OutboxStore(db)
    oid = outbox.enqueue(PHONE, "Helada", alert_id=alert_id)
    transport = RecordingTransport()
    sender = OutboxSender(outbox, Channels.single(transport), alerts=alerts, template="alerta_agro")
    sender.send(oid)
    assert transport.sent == [(PHONE, "Helada", "alerta_agro")]


def test_console_transport_writes_one_json_line_per_message() -> None:
    stream = io.StringIO()
    transport = ConsoleTransport(stream)
    message_id = transport.send(PHONE, "¿Riego hoy?\nSí.")
    line = json.loads(stream.getvalue())
    assert stream.getvalue().count("\n") == 1
    assert line == {
        "whatsapp": "out",
        "id": message_id,
        "to": f"{PHONE}@c.us",
        "text": "¿Riego hoy?\nSí.",
    }
