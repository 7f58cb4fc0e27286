"""MembershipActor with the real WhatsAppActor (its event streams faked): the WAHA sessions this
process owns are opened from the start, the others stand by, and streams follow the leases as
they move; a takeover hands over what the dead owner stored and never answered."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pykka
import pytest

from agrochat.actors.membership import (
    Membership,
    MembershipActor,
    Ownership,
    give_up_margin_s,
    lease_name,
    new_process,
)
from agrochat.actors.whatsapp import (
    Channel,
    Channels,
    GatewayState,
    InboundMessage,
    Inbox,
    StreamStatus,
    WahaClient,
    WhatsAppActor,
)
from agrochat.config import Config
from agrochat.messages import GatewayLost, GatewayOwned, Heartbeat, Incoming, Inspect
from agrochat.persistence import (
    Database,
    LeaseStore,
    MessageStore,
    ProcessStore,
    ProducerStore,
    utcnow,
)
from tests.conftest import FakePeers

CONFIG = Config(whatsapp="waha", heartbeat_s=3600, lease_ttl_s=30, alert_tick_s=3600)
OTHER = "campo-2:77:ffffff"


@dataclass
class FakeStream:
    session: str
    on_event: Callable[[object], None]
    started: bool = False
    stopped: bool = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> bool:
        self.stopped = True
        return True

    def status(self) -> StreamStatus:
        return StreamStatus(
            session=self.session,
            state="connected",
            since=0.0,
            detail=None,
            attempts=1,
            connects=1,
            failures=0,
            retry_in_s=None,
            events=0,
            callback_errors=0,
        )


class Streams:
    """The stream factory: every stream the WhatsApp actor made, in order."""

    def __init__(self) -> None:
        self.made: list[FakeStream] = []

    def __call__(
        self, base_url: str, *, session: str, on_event: Callable[[object], None], **kwargs: Any
    ) -> FakeStream:
        stream = FakeStream(session, on_event)
        self.made.append(stream)
        return stream

    def open(self) -> list[str]:
        return [s.session for s in self.made if s.started and not s.stopped]


class Process:
    """One agrochat process's membership and WhatsApp actors on ``db``."""

    def __init__(self, db: Database, channels: tuple[str, ...] = ("default", "ventas")) -> None:
        self.db = db
        self.peers = FakePeers()
        self.delivered: list[Incoming] = []
        self.streams = Streams()
        self.process = new_process("127.0.0.1:5000")
        self.ownership = Ownership(
            self.process.id,
            channels,
            margin_s=give_up_margin_s(CONFIG.lease_ttl_s),
            announce=self._announce,
        )
        self.channels = Channels(
            [
                Channel(name=c, kind="waha", transport=WahaClient("http://127.0.0.1:9", api_key=""))
                for c in channels
            ]
        )
        self.state = GatewayState([(c, "waha") for c in channels])

    def _announce(self, message: GatewayOwned | GatewayLost) -> None:
        # Not started yet: it reads the ownership as it starts.
        with contextlib.suppress(Exception):
            self.peers.ref("whatsapp").tell(message)

    def start(self) -> None:
        """As the supervisor does: membership first, then the WhatsApp actor."""
        membership = Membership(
            self.process,
            processes=ProcessStore(self.db),
            leases=LeaseStore(self.db),
            ownership=self.ownership,
            ttl_s=CONFIG.lease_ttl_s,
            heartbeat_s=CONFIG.heartbeat_s,
        )
        self.peers.refs["membership"] = MembershipActor.start(CONFIG, membership=membership)
        self.peers.refs["whatsapp"] = WhatsAppActor.start(
            CONFIG,
            database=self.db,
            channels=self.channels,
            peers=self.peers,
            inbox=Inbox(self.db, deliver=self.delivered.append, state=self.state),
            state=self.state,
            stream_factory=self.streams,
            owned=self.ownership.owned,
        )

    def beat(self) -> dict[str, Any]:
        """One heartbeat, then wait until the WhatsApp actor handled what it was told."""
        self.peers.refs["membership"].tell(Heartbeat(at=0))
        self.peers.refs["membership"].ask(Inspect(), timeout=10)
        return dict(self.peers.refs["whatsapp"].ask(Inspect(), timeout=10))


@pytest.fixture
def db(sqlite_database: Database) -> Iterator[Database]:
    yield sqlite_database
    pykka.ActorRegistry.stop_all()


def test_the_owner_opens_its_sessions_as_it_starts_and_the_rest_stand_by(db: Database) -> None:
    LeaseStore(db).acquire(lease_name("ventas"), OTHER, 30)
    node = Process(db)
    node.start()
    # Settled by the membership's first beat, made before the WhatsApp actor started.
    assert node.ownership.roles() == {"default": "owned", "ventas": "standby"}
    snapshot = node.peers.refs["whatsapp"].ask(Inspect(), timeout=10)
    assert node.streams.open() == ["default"]
    assert snapshot["standby"] == ["ventas"]
    state = node.state.get("ventas")
    assert state is not None and state.standby and state.problem is None
    # The faked stream never connects; the standby is no problem.
    assert node.state.health() == (False, "waha default: connecting; waha ventas: standby")


def test_streams_follow_the_leases_as_they_move(db: Database) -> None:
    leases = LeaseStore(db)
    leases.acquire(lease_name("ventas"), OTHER, 30)
    node = Process(db)
    node.start()
    # The other process stops cleanly: its lease is free at once.
    leases.release(lease_name("ventas"), OTHER)
    snapshot = node.beat()
    assert node.streams.open() == ["default", "ventas"] and snapshot["standby"] == []
    # Another process takes "default" (this one was paused past its expiry).
    leases.release(lease_name("default"), node.process.id)
    leases.acquire(lease_name("default"), OTHER, 30)
    snapshot = node.beat()
    assert node.streams.open() == ["ventas"] and snapshot["standby"] == ["default"]
    closed = [s for s in node.streams.made if s.stopped]
    assert [s.session for s in closed] == ["default"]
    # An event the closed socket still read is dropped: the new owner catches it up.
    closed[0].on_event(
        InboundMessage(
            source="waha",
            session="default",
            chat_id="51987654321@c.us",
            phone="51987654321",
            message_id="false_51987654321@c.us_3EB0BB",
            text="hola",
            timestamp=0,
        )
    )
    assert node.peers.refs["whatsapp"].ask(Inspect(), timeout=10)["received"] == 0


def test_a_takeover_hands_over_what_the_dead_owner_stored_and_never_answered(
    db: Database,
) -> None:
    leases = LeaseStore(db)
    leases.acquire(lease_name("default"), OTHER, 30)
    producer, _ = ProducerStore(db).get_or_create("51987654321")
    node = Process(db, channels=("default",))
    node.start()
    node.beat()
    assert node.delivered == []  # standing by: the owner answers its own messages
    # The owner stored a message and died before its session answered it.
    MessageStore(db).add_inbound(
        producer.id, "¿cuándo riego?", gateway_message_id="false_51987654321@c.us_3EB0AA"
    )
    leases.acquire(
        lease_name("default"), OTHER, 30, now=dt.datetime(2020, 1, 1)
    )  # its lease ran out long ago
    node.beat()
    assert node.streams.open() == ["default"]
    assert [(i.text, i.message_id) for i in node.delivered] == [
        ("¿cuándo riego?", "false_51987654321@c.us_3EB0AA")
    ]


def test_a_clean_stop_releases_the_leases_and_marks_the_process_stopped(db: Database) -> None:
    node = Process(db)
    node.start()
    assert {lease.name for lease in LeaseStore(db).held_by(node.process.id)} == {
        lease_name("default"),
        lease_name("ventas"),
    }
    # In the supervisor's order: the WhatsApp actor first, then the membership.
    node.peers.refs["whatsapp"].stop()
    node.peers.refs["membership"].stop()
    assert LeaseStore(db).all() == []
    row = ProcessStore(db).get(node.process.id)
    assert row is not None and row.stopped_at is not None and row.owns == {}


def test_the_actor_snapshot_names_the_process_and_its_leases(db: Database) -> None:
    node = Process(db, channels=("default",))
    node.start()
    snapshot = node.peers.refs["membership"].ask(Inspect(), timeout=10)
    assert snapshot["process"] == node.process.id
    assert [lease["name"] for lease in snapshot["leases"]] == ["gateway:waha:default"]
    assert snapshot["processes_alive"] == 1


class StalledLeases(LeaseStore):
    """A database that answers the first acquisition, then hangs until released (a heartbeat
    stuck on it cannot renew anything)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.calls = 0
        self.release_calls = threading.Event()

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > 1:
            self.release_calls.wait(10)
            raise ConnectionError("server closed the connection unexpectedly")
        return super().acquire(*args, **kwargs)


def test_a_heartbeat_stuck_on_the_database_still_gives_the_session_up_before_expiry(
    db: Database,
) -> None:
    config = CONFIG.replace(heartbeat_s=3600, lease_ttl_s=1.0)
    leases = StalledLeases(db)
    lost = threading.Event()
    ownership = Ownership(
        "campo-1:1:abcdef",
        ("default",),
        margin_s=give_up_margin_s(config.lease_ttl_s),
        announce=lambda m: lost.set() if isinstance(m, GatewayLost) else None,
    )
    membership = Membership(
        new_process("127.0.0.1:5000"),
        processes=ProcessStore(db),
        leases=leases,
        ownership=ownership,
        ttl_s=config.lease_ttl_s,
        heartbeat_s=config.heartbeat_s,
    )
    actor = MembershipActor.start(config, membership=membership)
    try:
        expires_at = ownership.expiries()["default"]
        actor.tell(Heartbeat(at=0))  # hangs on the database
        assert lost.wait(5)
        assert utcnow() < expires_at  # before anyone else may take it
        assert ownership.roles() == {"default": "standby"}
    finally:
        leases.release_calls.set()


def test_the_sweep_leaves_the_producers_of_a_session_owned_elsewhere_alone(
    db: Database,
) -> None:
    LeaseStore(db).acquire(lease_name("ventas"), OTHER, 30)
    producers, messages = ProducerStore(db), MessageStore(db)
    rosa, _ = producers.get_or_create("51987654321")
    producers.update(rosa.id, channel="default")
    ana, _ = producers.get_or_create("51955555555")
    producers.update(ana.id, channel="ventas")
    # Both wait for an answer: Rosa's process died; Ana's owner is answering her right now.
    messages.add_inbound(rosa.id, "¿cuándo riego?", gateway_message_id="false_rosa_1")
    messages.add_inbound(ana.id, "¿y la helada?", gateway_message_id="false_ana_1")
    node = Process(db)
    node.start()
    node.beat()  # the start's drain has run by now
    assert [i.phone for i in node.delivered] == ["51987654321"]
