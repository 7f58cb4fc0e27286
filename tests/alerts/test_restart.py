"""A process dies mid-way through delivering alerts; a new one on the same database finishes the
job, and every alert reaches the producer exactly once."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pykka
import pytest
from freezegun import freeze_time

from agrochat.actors.alerts import AlertSchedulerActor, RuleBook
from agrochat.config import Config
from agrochat.messages import DrainOutbox, Inspect, Tick
from agrochat.persistence import AlertStore, Database, OutboxStore, open_database
from tests.alerts._data import add_producer
from tests.alerts._fakes import FakeSessions, RecordingTransport, start_whatsapp
from tests.conftest import FakePeers

T0 = dt.datetime(2026, 3, 2, 15, 0, 0)
N = 6
CONFIG = Config(whatsapp="console", alert_tick_s=3600)


def _start(db: Database, transport: RecordingTransport) -> FakePeers:
    """One agrochat "process": WhatsApp, sessions and the scheduler, in dependency order."""
    peers = FakePeers()
    peers.refs["whatsapp"] = start_whatsapp(CONFIG, db, transport, peers)
    peers.refs["sessions"] = FakeSessions.start(db, peers)
    peers.refs["alerts"] = AlertSchedulerActor.start(
        CONFIG, database=db, peers=peers, rules=RuleBook(crops={})
    )
    return peers


def _settle(peers: FakePeers) -> None:
    """Wait until everything told so far has flowed scheduler -> sessions -> WhatsApp ->
    scheduler: an ask is answered only after the messages told before it."""
    for id in ("alerts", "sessions", "whatsapp", "alerts"):
        peers.refs[id].ask(Inspect(), timeout=10)


@pytest.mark.parametrize("crash_on_send", [1, 3, N])
def test_alerts_survive_a_crash_and_each_is_delivered_exactly_once(
    database_url: str, crash_on_send: int
) -> None:
    with freeze_time(T0) as clock:
        db = open_database(database_url)
        add_producer(db, "51987654321", last_inbound_at=T0)
        store = AlertStore(db)
        ids = [
            store.create(phone="51987654321", message=f"alerta {i}", level="media", source="api")
            for i in range(N)
        ]

        first = RecordingTransport(crash_on_call=crash_on_send)
        _start(db, first)
        assert first.crashed.wait(10), "the first process never reached the crash"
        pykka.ActorRegistry.stop_all(block=True, timeout=10)
        db.close()
        db.engine.dispose()
        check = open_database(database_url)
        statuses = Counter(a.status for a in AlertStore(check).recent())
        check.close()
        check.engine.dispose()
        assert statuses["sent"] == crash_on_send - 1, statuses  # mid-way: some went, some not

        # A new process on the same database, after the old leases ran out.
        clock.tick(dt.timedelta(minutes=6))
        db = open_database(database_url)
        second = RecordingTransport(expect=N - (crash_on_send - 1))
        peers = _start(db, second)
        peers.refs["whatsapp"].tell(DrainOutbox(at=0))
        peers.refs["alerts"].tell(Tick(at=0))
        assert second.done.wait(10), f"only {len(second.sent)} sent after the restart"
        _settle(peers)

        # Nothing more goes out however often the timers fire later.
        clock.tick(dt.timedelta(hours=1))
        peers.refs["whatsapp"].tell(DrainOutbox(at=0))
        peers.refs["alerts"].tell(Tick(at=0))
        _settle(peers)

        texts = Counter(text for _, text, _ in first.sent + second.sent)
        assert texts == Counter(f"alerta {i}" for i in range(N))
        store = AlertStore(db)
        assert [store.get(i).status for i in ids] == ["sent"] * N  # type: ignore[union-attr]
        assert OutboxStore(db).counts() == {"sent": N}
        pykka.ActorRegistry.stop_all(block=True, timeout=10)
        db.close()
        db.engine.dispose()
