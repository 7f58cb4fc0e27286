"""The model's part of agrochat's wiring: its actors' child specs, the client every caller
shares, and what /health and /metrics read.

One model (embedded, or one AGROCHAT_INFERENCE_URL): one InferenceActor, ``inference``.
Several URLs: one InferenceActor per server (``inference``, ``inference-2``, ...), each serving
its server one request at a time as before (a llama.cpp server works on one request at a time
anyway), and the client routes between them through a ServerPool. Concurrency is then the number
of servers, each actor's mailbox is its server's queue, and a dead server's actor simply fails
its requests over to the others.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agrochat.actors._common import ActorId, Peers
from agrochat.actors.inference._actor import BackendFactory, InferenceActor, make_backend
from agrochat.actors.inference._client import InferenceClient
from agrochat.actors.inference._metrics import ServerMetrics, render_metrics
from agrochat.actors.inference._pool import ServerAddress, ServerPool
from agrochat.actors.inference._remote import _public_url
from agrochat.actors.inference._status import ModelStatus
from agrochat.config import Config
from agrochat.supervisor import ChildSpec

HealthCheck = Callable[[], tuple[bool, Any]]


def server_actor_id(index: int) -> str:
    """The first server's actor keeps the one model's id, so what reads ``inference`` (the
    admin panel, dashboards) still finds a model."""
    return ActorId.INFERENCE if index == 0 else f"{ActorId.INFERENCE}-{index + 1}"


@dataclass(frozen=True)
class InferenceWiring:
    specs: list[ChildSpec]
    client: InferenceClient
    health_checks: dict[str, HealthCheck]
    metrics: list[Callable[[], str]] = field(default_factory=list)
    pool: ServerPool | None = None


def wire_inference(
    config: Config, peers: Peers, *, backend_factory: BackendFactory | None = None
) -> InferenceWiring:
    """``backend_factory`` is called with a Config naming one server (``inference_url``)."""
    urls = config.inference_urls
    if len(urls) <= 1:
        # The model's state is read by /health while the actor's mailbox is blocked loading it.
        status = ModelStatus()
        spec = ChildSpec(
            id=ActorId.INFERENCE,
            start=lambda: InferenceActor.start(
                config, status=status, backend_factory=backend_factory
            ),
        )
        # One client for /chat and every session: the queue bound is global to the model.
        client = InferenceClient(peers, queue_limit=config.inference_queue, status=status)
        # Not ready while loading: a balancer should not send producers to a node without a model.
        return InferenceWiring([spec], client, {"model": status.health}, [render_metrics])

    ids = [server_actor_id(i) for i in range(len(urls))]
    pool = ServerPool(
        [ServerAddress(id, _public_url(url)) for id, url in zip(ids, urls, strict=True)]
    )
    # A failed server's request goes to another server at once rather than retrying the same.
    factory = backend_factory or functools.partial(make_backend, retries=0)
    statuses = [ModelStatus() for _ in urls]
    specs = [
        ChildSpec(
            id=id,
            start=functools.partial(
                InferenceActor.start,
                config.replace(inference_url=url),
                status=status,
                backend_factory=factory,
                server=functools.partial(pool.server, id),
            ),
        )
        for id, url, status in zip(ids, urls, statuses, strict=True)
    ]
    client = InferenceClient(peers, queue_limit=config.inference_queue, pool=pool)

    def model() -> tuple[bool, Any]:
        checks = [s.health() for s in statuses]
        return next((c for c in checks if c[0]), checks[0])

    return InferenceWiring(
        specs,
        client,
        {"model": model, "model_servers": pool.health},
        [render_metrics, ServerMetrics(pool.snapshot).render],
        pool=pool,
    )
