"""The alert path under the real Supervisor: peers are looked up through it at call time."""

from __future__ import annotations

import pykka

from agrochat.actors.alerts import AlertSchedulerActor, RuleBook
from agrochat.config import Config
from agrochat.messages import Inspect
from agrochat.persistence import AlertStore, Database, OutboxStore, utcnow
from agrochat.supervisor import ChildSpec, Supervised, Supervisor
from tests.alerts._data import add_producer
from tests.alerts._fakes import FakeSessions, RecordingTransport, start_whatsapp

PHONE = "51987654321"
CONFIG = Config(whatsapp="console", alert_tick_s=3600)


class _SupervisedSessions(Supervised, FakeSessions):
    """FakeSessions, but telling peers through the supervisor (which has ``ref``)."""

    def __init__(self, database: Database, supervisor: Supervisor) -> None:
        pykka.ThreadingActor.__init__(self)
        self.outbox = OutboxStore(database)
        self.peers = supervisor  # type: ignore[assignment]
        self.pushed = []


def test_alerts_flow_through_supervised_actors(sqlite_database: Database) -> None:
    db = sqlite_database
    add_producer(db, PHONE, last_inbound_at=utcnow())
    store = AlertStore(db)
    ids = [store.create(phone=PHONE, message=f"a{i}", level="alta", source="api") for i in range(3)]
    transport = RecordingTransport(expect=3)
    holder: dict[str, Supervisor] = {}

    def peers() -> Supervisor:
        return holder["sup"]

    sup = Supervisor(
        [
            ChildSpec(
                "whatsapp",
                lambda: start_whatsapp(CONFIG, db, transport, peers()),
            ),
            ChildSpec("sessions", lambda: _SupervisedSessions.start(db, peers())),
            ChildSpec(
                "alerts",
                lambda: AlertSchedulerActor.start(
                    CONFIG, database=db, peers=peers(), rules=RuleBook(crops={})
                ),
            ),
        ],
        intensity=5,
        period_s=30,
    )
    holder["sup"] = sup
    sup.start()
    try:
        assert transport.done.wait(10)
        sup.ref("whatsapp").ask(Inspect(), timeout=10)
        snapshot = sup.ref("alerts").ask(Inspect(), timeout=10)
        assert snapshot["delivering"] is True
        assert [store.get(i).status for i in ids] == ["sent"] * 3  # type: ignore[union-attr]
        assert sorted(text for _, text, _ in transport.sent) == ["a0", "a1", "a2"]
        # The scheduler's snapshot is what /debug/actors shows: plain data.
        states = {c.id: c.state for c in sup.snapshot()}
        assert states["alerts"]["pushed"] == 3
        assert states["whatsapp"]["sent"] == 3
    finally:
        sup.stop()
