"""What every actor shell shares: the ids actors are known by, finding peers at call time, and a
periodic self-tell."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import pykka


class ActorId(enum.StrEnum):
    """The supervised actors, by the id the supervisor knows them under (and /debug shows)."""

    INFERENCE = "inference"
    WHATSAPP = "whatsapp"
    SESSIONS = "sessions"
    ALERTS = "alerts"
    TRANSCRIPTION = "transcription"
    MEMBERSHIP = "membership"


class Peers(Protocol):
    """How an actor (or a thread that is not one) reaches another: by id, looked up at call time
    (the Supervisor, Agrochat, or a test's fake). After a restart the id names a new actor, so
    never keep what this returns."""

    def ref(self, id: str) -> pykka.ActorRef[Any]: ...


def tell(peers: Peers, id: ActorId, message: object) -> None:
    """Tell ``message`` to the current actor ``id``."""
    peers.ref(id).tell(message)


class Ticker:
    """A timer thread that tells ``message(now)`` to an actor every ``interval_s``.

    At most one tick waits in the inbox at a time (the actor calls ``handled()`` when it has
    processed one), so a slow database does not pile ticks up behind it.
    """

    def __init__(
        self,
        actor_ref: pykka.ActorRef[Any],
        interval_s: float,
        *,
        message: Callable[[float], object],
        name: str,
    ) -> None:
        self.actor_ref = actor_ref
        self.interval_s = interval_s
        self.message = message
        self.outstanding = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def handled(self) -> None:
        self.outstanding.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.outstanding.is_set():
                continue
            self.outstanding.set()
            try:
                self.actor_ref.tell(self.message(time.time()))
            except pykka.ActorDeadError:
                return
