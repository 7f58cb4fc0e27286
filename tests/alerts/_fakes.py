"""Test doubles for the alert and WhatsApp actors' collaborators."""

from __future__ import annotations

import threading
from typing import Any

import pykka

from agrochat.actors.whatsapp import Channels, Inbox, TransportError, WhatsAppActor
from agrochat.config import Config
from agrochat.messages import PushAlert, Send
from agrochat.persistence import Database, OutboxStore
from tests.conftest import FakePeers


class FakeSessions(pykka.ThreadingActor):
    """What SessionDirectory does with a PushAlert: outbox row first, then Send, in order."""

    def __init__(self, database: Database, peers: FakePeers) -> None:
        super().__init__()
        self.outbox = OutboxStore(database)
        self.peers = peers
        self.pushed: list[PushAlert] = []

    def on_receive(self, message: Any) -> None:
        if isinstance(message, PushAlert):
            self.pushed.append(message)
            oid = self.outbox.enqueue(message.phone, message.text, alert_id=message.alert_id)
            if oid is None:
                return  # cancelled meanwhile
            self.peers.ref("whatsapp").tell(
                Send(
                    outbox_id=oid, phone=message.phone, text=message.text, alert_id=message.alert_id
                )
            )


class SimulatedCrash(BaseException):
    """Raised inside an actor, a BaseException stops every actor at once, like a dying process:
    whatever is left in their inboxes is never handled."""


class RecordingTransport:
    """Records what it sends; can fail, or crash the process, on chosen calls."""

    name = "recording"

    def __init__(
        self,
        *,
        crash_on_call: int | None = None,
        fail_with: TransportError | None = None,
        expect: int | None = None,
    ) -> None:
        self.sent: list[tuple[str, str, str | None]] = []
        self.calls = 0
        self.crash_on_call = crash_on_call
        self.fail_with = fail_with
        self.expect = expect
        self.done = threading.Event()
        self.crashed = threading.Event()
        self._lock = threading.Lock()

    def send(self, phone: str, text: str, *, template: str | None = None) -> str | None:
        with self._lock:
            self.calls += 1
            call = self.calls
        if self.crash_on_call is not None and call == self.crash_on_call:
            self.crashed.set()
            raise SimulatedCrash(f"process died during send #{call}")
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.sent.append((phone, text, template))
            if self.expect is not None and len(self.sent) >= self.expect:
                self.done.set()
        return f"gw_{call}"

    def close(self) -> None:
        pass


def start_whatsapp(
    config: Config, db: Database, transport: Any, peers: Any, **kwargs: Any
) -> pykka.ActorRef[Any]:
    """The WhatsApp actor with one number sending through ``transport``."""
    inbox = Inbox(db, deliver=lambda incoming: peers.ref("sessions").tell(incoming))
    return WhatsAppActor.start(
        config,
        database=db,
        channels=Channels.single(transport),
        peers=peers,
        inbox=inbox,
        **kwargs,
    )
