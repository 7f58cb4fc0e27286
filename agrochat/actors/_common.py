"""What every actor shell shares: finding peers at call time, and a periodic self-tell."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import pykka


class Peers(Protocol):
    """How an actor reaches another: by id, looked up at call time (the Supervisor, Agrochat, or
    a test's fake). After a restart the id names a new actor, so never keep what this returns."""

    def proxy(self, id: str) -> Any: ...


def tell(peers: Peers, id: str, message: object) -> None:
    """Tell ``message`` to the current actor ``id``."""
    ref = getattr(peers, "ref", None)
    if callable(ref):
        ref(id).tell(message)
    else:
        peers.proxy(id).actor_ref.tell(message)


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
