"""AlertSchedulerActor: the shell around the dispatcher, with real actors and test doubles."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pykka
from freezegun import freeze_time

from agrochat.actors.alerts import AlertSchedulerActor, RuleBook, backoff
from agrochat.config import Config
from agrochat.messages import Inspect, Tick
from agrochat.persistence import AlertStore, Database, utcnow
from tests.alerts._data import add_producer
from tests.alerts._fakes import FakeSessions, RecordingTransport, start_whatsapp
from tests.conftest import FakePeers

PHONE = "51987654321"
NO_RULES = RuleBook(crops={})
# Ticks in these tests are told by the test; the timer is far away.
CONFIG = Config(whatsapp="console", alert_tick_s=3600)


class _Recorder(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def on_receive(self, message: Any) -> None:
        self.messages.append(message)

    def received(self) -> list[Any]:
        return list(self.messages)


def test_due_alerts_are_handed_to_sessions_in_schedule_order(sqlite_database: Database) -> None:
    db = sqlite_database
    add_producer(db, PHONE, last_inbound_at=utcnow())
    store = AlertStore(db)
    t0 = utcnow()
    second = store.create(phone=PHONE, message="b", level="alta", source="api", scheduled_at=t0)
    first = store.create(
        phone=PHONE, message="a", level="alta", source="api", scheduled_at=t0 - dt.timedelta(1)
    )
    peers = FakePeers()
    peers.refs["sessions"] = _Recorder.start()
    scheduler = AlertSchedulerActor.start(
        CONFIG, database=db, peers=peers, rules=NO_RULES, tick_on_start=False
    )
    scheduler.ask(Tick(at=0), timeout=10)
    pushed = peers.refs["sessions"].proxy().received().get(timeout=10)
    assert [(p.alert_id, p.text) for p in pushed] == [(first, "a"), (second, "b")]


def test_sessions_down_counts_as_a_failed_attempt_retried_after_backoff(
    sqlite_database: Database,
) -> None:
    db = sqlite_database
    with freeze_time("2026-03-02 15:00:00") as clock:
        add_producer(db, PHONE, last_inbound_at=utcnow())
        store = AlertStore(db)
        alert_id = store.create(phone=PHONE, message="a", level="alta", source="api")
        peers = FakePeers()  # no "sessions" at all
        scheduler = AlertSchedulerActor.start(
            CONFIG, database=db, peers=peers, rules=NO_RULES, tick_on_start=False
        )
        scheduler.ask(Tick(at=0), timeout=10)
        alert = store.get(alert_id)
        assert alert is not None
        assert (alert.status, alert.attempts) == ("pending", 1)
        assert "sessions unavailable" in (alert.last_error or "")
        assert alert.lease_until == utcnow() + backoff(1)
        peers.refs["sessions"] = _Recorder.start()
        clock.tick(backoff(1))
        scheduler.tell(Tick(at=0))
        scheduler.ask(Inspect(), timeout=10)
        pushed = peers.refs["sessions"].proxy().received().get(timeout=10)
    assert [p.alert_id for p in pushed] == [alert_id]


def test_a_failing_tick_is_logged_and_the_scheduler_lives_on(sqlite_database: Database) -> None:
    class BrokenDispatcher:
        deliver, template, claimed_by = True, "", "x"

        def tick(self) -> None:
            raise RuntimeError("database is locked")

    scheduler = AlertSchedulerActor.start(
        CONFIG,
        database=sqlite_database,
        peers=FakePeers(),
        dispatcher=BrokenDispatcher(),  # type: ignore[arg-type]
        tick_on_start=False,
    )
    scheduler.ask(Tick(at=0), timeout=10)
    snapshot = scheduler.ask(Inspect(), timeout=10)
    assert scheduler.is_alive()
    assert snapshot["errors"] == 1 and "database is locked" in snapshot["last_error"]


def test_alert_goes_from_tick_through_session_and_gateway_to_sent(
    sqlite_database: Database,
) -> None:
    db = sqlite_database
    add_producer(db, PHONE, last_inbound_at=utcnow())
    store = AlertStore(db)
    alert_id = store.create(phone=PHONE, message="Helada esta noche", level="alta", source="api")
    transport = RecordingTransport(expect=1)
    peers = FakePeers()
    peers.refs["whatsapp"] = start_whatsapp(CONFIG, db, transport, peers)
    peers.refs["sessions"] = FakeSessions.start(db, peers)
    peers.refs["alerts"] = AlertSchedulerActor.start(
        CONFIG, database=db, peers=peers, rules=NO_RULES
    )
    assert transport.done.wait(10)
    peers.refs["whatsapp"].ask(Inspect(), timeout=10)
    peers.refs["alerts"].ask(Inspect(), timeout=10)
    assert transport.sent == [(PHONE, "Helada esta noche", None)]
    alert = store.get(alert_id)
    assert alert is not None and (alert.status, alert.delivery) == ("sent", "text")


def test_without_a_gateway_the_scheduler_leaves_alerts_for_pollers(
    sqlite_database: Database,
) -> None:
    db = sqlite_database
    add_producer(db, PHONE, last_inbound_at=utcnow())
    alert_id = AlertStore(db).create(phone=PHONE, message="a", level="alta", source="api")
    peers = FakePeers()
    peers.refs["sessions"] = _Recorder.start()
    scheduler = AlertSchedulerActor.start(
        CONFIG, database=db, peers=peers, deliver=False, rules=NO_RULES
    )
    scheduler.ask(Tick(at=0), timeout=10)
    assert scheduler.ask(Inspect(), timeout=10)["delivering"] is False
    assert peers.refs["sessions"].proxy().received().get(timeout=10) == []
    assert [a.id for a in AlertStore(db).pending_due()] == [alert_id]
