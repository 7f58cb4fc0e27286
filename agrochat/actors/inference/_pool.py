"""Which model server a request goes to, when AGROCHAT_INFERENCE_URL names several.

Plain logic that InferenceClient consults around each ask (tests drive it with a fake clock):

- Sticky: a producer (``cache_key``) goes back to the server that answered them last while it is
  up, because a llama.cpp server keeps the KV of the prompt prefix it last saw, and a producer's
  next turn repeats their whole conversation.
- Otherwise (a new producer, a request with no key, or a producer whose server went down): the
  least busy server that is up, fewest requests in flight, ties taken in turn. The producer then
  stays on the new server, even once the old one is back.
- A server that fails (ServerFailed: unreachable, 429/502-504, timed out short of the request's
  deadline) is down for a backoff (2 s, doubling to 30 s); after it one request goes to it as a
  trial (a circuit breaker's half-open state): success brings it back, failure doubles the
  backoff. A lone server is never taken down: there is nowhere else to send its requests, and
  refusing them would only turn a blip into an outage.

Thread-safe (one lock): every caller thread of the client routes through the same pool.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from agrochat.errors import ModelUnavailable


@dataclass
class _Server:
    id: str  # the actor that talks to it
    url: str  # without credentials: logs, /debug, metric labels
    in_flight: int = 0
    served: int = 0  # answered
    failures: int = 0  # ServerFailed
    other: int = 0  # neither: the request's deadline, a refused request
    down_until: float | None = None  # clock time; None: up
    backoff_s: float = 0.0
    on_trial: bool = False  # a request is testing it after its backoff
    last_error: str | None = None


@dataclass(frozen=True)
class ServerAddress:
    """A server of the pool: the id of the actor that talks to it, and its public URL."""

    id: str
    url: str


class ServerPool:
    def __init__(
        self,
        servers: Sequence[ServerAddress],
        *,
        backoff_s: float = 2.0,
        max_backoff_s: float = 30.0,
        sticky_limit: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not servers:
            raise ValueError("a pool needs at least one server")
        self._servers = {s.id: _Server(s.id, s.url) for s in servers}
        if len(self._servers) != len(servers):
            raise ValueError("server ids must be distinct")
        self._order = [s.id for s in servers]
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sticky: OrderedDict[str, str] = OrderedDict()
        self._sticky_limit = sticky_limit
        self._next = 0  # where the turn for ties starts
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()

    @property
    def ids(self) -> list[str]:
        return list(self._order)

    def url(self, id: str) -> str:
        return self._servers[id].url

    # --- routing -----------------------------------------------------------------------------

    def acquire(self, cache_key: str | None, *, exclude: Collection[str] = ()) -> str:
        """The id of the server to ask now (counted in flight until ``succeeded``, ``failed``
        or ``abandoned``); ModelUnavailable when none is up. ``exclude``: servers this request
        already failed on."""
        with self._lock:
            now = self._clock()
            servers = [self._servers[id] for id in self._order if id not in exclude]
            usable = [s for s in servers if self._usable(s, now)]
            if not usable:
                raise ModelUnavailable(self._none_usable(now, tried=bool(exclude)))
            chosen = self._sticky_server(cache_key, usable) or self._least_busy(usable)
            if cache_key is not None:
                self._sticky[cache_key] = chosen.id
                self._sticky.move_to_end(cache_key)
                while len(self._sticky) > self._sticky_limit:
                    self._sticky.popitem(last=False)
            if chosen.down_until is not None:
                chosen.on_trial = True
            chosen.in_flight += 1
            return chosen.id

    def succeeded(self, id: str) -> None:
        with self._lock:
            server = self._servers[id]
            server.in_flight -= 1
            server.served += 1
            # Whatever failed before, it answers now.
            server.down_until = None
            server.backoff_s = 0.0
            server.on_trial = False

    def failed(self, id: str, reason: str) -> None:
        with self._lock:
            server = self._servers[id]
            server.in_flight -= 1
            server.failures += 1
            server.last_error = reason
            if len(self._servers) == 1:
                return
            now = self._clock()
            if server.on_trial:
                server.backoff_s = min(self.max_backoff_s, server.backoff_s * 2)
            elif server.down_until is None:
                server.backoff_s = self.backoff_s
            else:
                # A request sent before it went down: that failure is already counted.
                return
            server.on_trial = False
            server.down_until = now + server.backoff_s

    def abandoned(self, id: str) -> None:
        """Neither answered nor failed: the request's deadline passed, or the server refused
        this one request (4xx). Says nothing about the server; a trial may go again."""
        with self._lock:
            server = self._servers[id]
            server.in_flight -= 1
            server.other += 1
            server.on_trial = False

    def _usable(self, server: _Server, now: float) -> bool:
        if server.down_until is None:
            return True
        # After its backoff, one request at a time tries it.
        return server.down_until <= now and not server.on_trial

    def _sticky_server(self, cache_key: str | None, usable: list[_Server]) -> _Server | None:
        if cache_key is None:
            return None
        id = self._sticky.get(cache_key)
        return next((s for s in usable if s.id == id), None)

    def _least_busy(self, usable: list[_Server]) -> _Server:
        fewest = min(s.in_flight for s in usable)
        tied = {s.id: s for s in usable if s.in_flight == fewest}
        count = len(self._order)
        for step in range(count):
            id = self._order[(self._next + step) % count]
            if id in tied:
                self._next = (self._order.index(id) + 1) % count
                return tied[id]
        raise AssertionError("unreachable: the tied servers are in the order")

    def _none_usable(self, now: float, *, tried: bool) -> str:
        down = [s for s in self._servers.values() if s.down_until is not None]
        if tried and len(down) < len(self._servers):
            return "every model server that could take this request failed on it"
        soonest = min((s.down_until for s in down if s.down_until is not None), default=now)
        wait = max(0.0, soonest - now)
        return f"every model server is down; the next is tried again in {wait:.0f} s"

    # --- what operators see --------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self._clock()
            return [self._row(self._servers[id], now) for id in self._order]

    def server(self, id: str) -> dict[str, Any]:
        with self._lock:
            return self._row(self._servers[id], self._clock())

    def _row(self, server: _Server, now: float) -> dict[str, Any]:
        down = server.down_until is not None
        until = None
        if server.down_until is not None:
            wall = self._wall() + max(0.0, server.down_until - now)
            until = dt.datetime.fromtimestamp(wall, dt.UTC).isoformat(timespec="seconds")
        return {
            "actor": server.id,
            "url": server.url,
            "state": ("trial" if server.on_trial else "down") if down else "up",
            "healthy": not down,
            "in_flight": server.in_flight,
            "served": server.served,
            "failures": server.failures,
            "other": server.other,
            "down_until": until,
            "last_error": server.last_error,
        }

    def health(self) -> tuple[bool, str]:
        """For ``/health``: ready while any server is up. Counts only (/health answers anyone;
        the servers' addresses are for operators, on /debug/actors and /metrics)."""
        with self._lock:
            up = sum(1 for s in self._servers.values() if s.down_until is None)
        return up > 0, f"{up} of {len(self._servers)} up"
