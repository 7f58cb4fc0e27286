"""InferenceClient: how sessions and /chat ask the model, with the queue bounded by us.

Pykka inboxes are unbounded, so the bound lives here: a count of requests waiting for or running
on the model. When ``queue_limit`` are in flight, ``generate`` raises Overloaded at once, before
anything is queued, so the caller can tell the producer to wait (and keep the message).
The count is kept by the caller's side and always released when the caller stops waiting; a
request whose caller gave up is dropped by the actor (its deadline has passed) or stopped
mid-generation, so it never holds the model for long.

With several model servers (a ServerPool: one InferenceActor per server, each serving one
request at a time), the client routes each request to a server and, when that server fails,
tries another while the deadline allows. ``queue_limit`` then bounds the whole pool's requests
together, so it is the number of producers that may wait, however many servers there are.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pykka

from agrochat.actors._common import ActorId, Peers
from agrochat.actors.inference._backend import ServerFailed
from agrochat.actors.inference._metrics import STATS, InferenceStats
from agrochat.actors.inference._pool import ServerPool
from agrochat.actors.inference._status import ModelState, ModelStatus
from agrochat.errors import DeadlineExceeded, ModelUnavailable, NotReady, Overloaded
from agrochat.logs import get_logger
from agrochat.messages import InferenceRequest, InferenceResult, expired

log = get_logger(__name__)


class InferenceClient:
    # Extra wait past the deadline for the actor's own DeadlineExceeded to arrive, so the caller
    # learns whether the request was dropped or stopped rather than just timing out.
    GRACE_S = 2.0

    def __init__(
        self,
        peers: Peers,
        *,
        queue_limit: int,
        status: ModelStatus | None = None,
        stats: InferenceStats | None = None,
        pool: ServerPool | None = None,
    ) -> None:
        """``pool``: the model servers to route between (None: the one InferenceActor)."""
        if queue_limit < 1:
            raise ValueError("queue_limit must be at least 1")
        self._peers = peers
        self.queue_limit = queue_limit
        self._status = status
        self._stats = stats or STATS
        self.pool = pool
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def generate(self, request: InferenceRequest) -> InferenceResult:
        """The model's answer; Overloaded, DeadlineExceeded or ModelUnavailable otherwise."""
        if expired(request.deadline):
            self._stats.requests.labels("deadline").inc()
            raise DeadlineExceeded("the request's deadline passed before it was sent")
        if self._status is not None and self._status.state is ModelState.FAILED:
            self._stats.requests.labels("unavailable").inc()
            raise ModelUnavailable(f"the model is not available: {self._status.detail}")
        with self._lock:
            if self._in_flight >= self.queue_limit:
                self._stats.requests.labels("overloaded").inc()
                raise Overloaded(
                    f"the model already has {self._in_flight} requests waiting; try again shortly"
                )
            self._in_flight += 1
            self._stats.in_flight.set(self._in_flight)
        try:
            if self.pool is not None:
                return self._routed(request, self.pool)
            return self._ask(ActorId.INFERENCE, request)
        except (pykka.ActorDeadError, NotReady):
            self._stats.requests.labels("unavailable").inc()
            raise ModelUnavailable("the inference actor is not running") from None
        finally:
            with self._lock:
                self._in_flight -= 1
                self._stats.in_flight.set(self._in_flight)

    def _ask(self, actor_id: str, request: InferenceRequest) -> InferenceResult:
        # Looked up per call: after a restart the supervisor holds a new actor.
        ref = self._peers.ref(actor_id)
        future = ref.ask(dataclasses.replace(request, submitted_at=time.monotonic()), block=False)
        timeout = max(0.0, request.deadline - time.monotonic()) + self.GRACE_S
        try:
            return future.get(timeout=timeout)
        except pykka.Timeout:
            raise DeadlineExceeded("no answer from the model before the deadline") from None

    def _routed(self, request: InferenceRequest, pool: ServerPool) -> InferenceResult:
        """Ask the server the pool picks; when that server fails, the next one, until one
        answers, every server has failed this request, or its deadline passes."""
        tried: list[str] = []
        while True:
            try:
                server = pool.acquire(request.cache_key, exclude=tried)
            except ModelUnavailable:
                self._stats.requests.labels("unavailable").inc()
                raise
            try:
                try:
                    result = self._ask(server, request)
                except (pykka.ActorDeadError, NotReady):
                    # Its actor is restarting: as good as down for this request.
                    raise ServerFailed("the actor for this model server is not running") from None
            except ServerFailed as exc:
                pool.failed(server, exc.message)
                tried.append(server)
                log.warning(
                    "a model server failed; trying another",
                    server=pool.url(server),
                    error=exc.message,
                    request_id=request.request_id,
                )
                if expired(request.deadline):
                    self._stats.requests.labels("deadline").inc()
                    raise DeadlineExceeded(
                        "the model server failed and the deadline passed"
                    ) from None
                continue
            except BaseException:
                pool.abandoned(server)
                raise
            pool.succeeded(server)
            return result
