"""The bound on routes that hold an HTTP thread while a model works: ``/agent``, ``/chat`` and
``/form/update`` (which waits on the producer's session, itself possibly waiting on the model).

waitress serves every route from one pool of ``AGROCHAT_HTTP_THREADS`` threads, and a reply may
take up to ``AGROCHAT_REPLY_TIMEOUT_S`` (120 s): without a bound, as many slow replies as there
are threads take them all, and ``/health``, the panel and ``/alerts/pending`` wait behind them.
So such a route takes a slot first; with every slot taken it is refused at once (503, with
``Retry-After``) rather than queued, and the threads left over always serve everything else.
A refused request has reached no session: nothing of it is stored.

A route opts in with ``bounded=True`` in its route config.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import bottle
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from agrochat.errors import Overloaded
from agrochat.logs import get_logger

log = get_logger(__name__)


# Under a flood every refusal would be a log line; one line says how many, this often.
WARN_EVERY_S = 10.0


class RouteBound:
    """At most ``slots`` bounded requests at once; the next one is refused, never queued."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self._lock = threading.Lock()
        self._held = 0
        self._unreported = 0
        self._warned_at = -WARN_EVERY_S
        self.registry = CollectorRegistry()
        self._in_use = Gauge(
            "agrochat_http_model_slots_in_use",
            "requests to /agent, /chat or /form/update being served",
            registry=self.registry,
        )
        limit = Gauge(
            "agrochat_http_model_slots",
            "bounded requests served at once (AGROCHAT_HTTP_MODEL_THREADS)",
            registry=self.registry,
        )
        limit.set(slots)
        self._refused = Counter(
            "agrochat_http_model_refused",
            "requests refused with 503 because every slot was taken",
            registry=self.registry,
        )

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        report = 0
        with self._lock:
            full = self._held >= self.slots
            if full:
                self._refused.inc()
                self._unreported += 1
                now = time.monotonic()
                if now - self._warned_at >= WARN_EVERY_S:
                    report, self._unreported, self._warned_at = self._unreported, 0, now
            else:
                self._held += 1
                self._in_use.set(self._held)
        if full:
            if report:
                log.warning(
                    "requests refused: every model slot is taken", slots=self.slots, refused=report
                )
            raise Overloaded(
                f"agrochat is already answering {self.slots} requests that wait on the model; "
                "retry shortly"
            )
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1
                self._in_use.set(self._held)

    def render_metrics(self) -> str:
        return generate_latest(self.registry).decode()


class RouteBoundPlugin:
    """Applies ``RouteBound`` to the routes that declare ``bounded=True``."""

    name = "agrochat_route_bound"
    api = 2

    def __init__(self, bound: RouteBound) -> None:
        self.bound = bound

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        if not route.config.get("bounded", False):
            return callback

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.bound.slot():
                return callback(*args, **kwargs)

        return wrapper
