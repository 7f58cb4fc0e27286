"""Everything agrochat runs, built once: the actors' child specs in dependency order, and the
services shared by actors and HTTP routes.

inference  owns the model; talks to no one
whatsapp   sends the outbox through the gateway; tells "alerts" what was delivered
sessions   one actor per producer; asks inference, tells whatsapp
alerts     ticks, claims due alerts, tells "sessions" to deliver them in each producer's order

Whether a WhatsApp gateway exists is decided here, once: without one there is no WhatsApp actor,
replies are not put in the outbox (the seed's bridge reads them from ``/agent``), and alerts wait
for a bridge to poll them. Peers are looked up at call time (``peers.ref(id)``), so a restarted
actor is found again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agrochat.actors import ActorId, Peers, tell
from agrochat.actors.alerts import AlertSchedulerActor
from agrochat.actors.inference import (
    BackendFactory,
    InferenceActor,
    InferenceClient,
    ModelStatus,
)
from agrochat.actors.inference import render_metrics as inference_metrics
from agrochat.actors.session import (
    Clock,
    Conversation,
    Delivery,
    Form,
    SessionDirectory,
    SessionGateway,
    load_form,
    vocabulary,
)
from agrochat.actors.whatsapp import Transport, WhatsAppActor, make_transport
from agrochat.config import Config
from agrochat.knowledge import KnowledgeBase
from agrochat.messages import Send
from agrochat.persistence import Database, KnowledgeStore
from agrochat.supervisor import ChildSpec

HealthCheck = Callable[[], tuple[bool, Any]]


@dataclass
class Wiring:
    """What ``build`` made: the supervisor's children and what the HTTP routes are given."""

    specs: list[ChildSpec]
    inference: InferenceClient
    sessions: SessionGateway
    gateway: Transport | None
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    metrics: list[Callable[[], str]] = field(default_factory=list)


def knowledge_base(database: Database, form: Form) -> KnowledgeBase:
    """The base every session reads; its speller knows the cues' words and the form's options."""
    options = [w for spec in form.fields for words in spec.options.values() for w in words]
    crop = form.get("cultivo")
    crops = [w for c, words in crop.options.items() for w in (c, *words)] if crop else []
    return KnowledgeBase(
        KnowledgeStore(database), extra_words=[*vocabulary(), *options], crop_words=crops
    )


def build(
    config: Config,
    database: Database,
    peers: Peers,
    *,
    backend_factory: BackendFactory | None = None,
    clock: Clock | None = None,
) -> Wiring:
    """``backend_factory``: the model (default: what the configuration names); ``clock``: the
    conversations' time. Tests and benchmarks give doubles here and get everything else exactly
    as production has it."""
    # The model's state is read by /health while the actor's mailbox is blocked loading it.
    status = ModelStatus()
    # One client for /chat and every session: the queue bound is global to the model.
    inference = InferenceClient(peers, queue_limit=config.inference_queue, status=status)
    gateway = make_transport(config)

    send: Callable[[Send], None] | None = None
    if gateway is not None:

        def send(message: Send) -> None:
            tell(peers, ActorId.WHATSAPP, message)

    form = load_form("perfil")
    # The speller knows the base's words, the cues' and the form's options.
    option_words = [
        w
        for spec in form.fields
        for words in spec.options.values()
        for s in words
        for w in s.split()
    ]
    knowledge = KnowledgeBase(KnowledgeStore(database), extra_words=[*vocabulary(), *option_words])
    delivery = Delivery(database, send)
    clock = clock or Clock(config.timezone)

    def conversation(phone: str) -> Conversation:
        return Conversation(
            phone,
            config=config,
            database=database,
            inference=inference,
            form=form,
            knowledge=knowledge,
            delivery=delivery,
            clock=clock,
            phrase=config.phrase,
        )

    specs = [
        ChildSpec(
            id=ActorId.INFERENCE,
            start=lambda: InferenceActor.start(
                config, status=status, backend_factory=backend_factory
            ),
        )
    ]
    if gateway is not None:
        specs.append(
            ChildSpec(
                id=ActorId.WHATSAPP,
                start=lambda: WhatsAppActor.start(
                    config, database=database, transport=gateway, peers=peers
                ),
            )
        )
    specs += [
        ChildSpec(
            id=ActorId.SESSIONS,
            start=lambda: SessionDirectory.start(
                config, peers=peers, conversation_factory=conversation
            ),
        ),
        ChildSpec(
            id=ActorId.ALERTS,
            start=lambda: AlertSchedulerActor.start(
                config, database=database, peers=peers, deliver=gateway is not None
            ),
        ),
    ]

    # Not ready while loading: a balancer should not send producers to a node without a model.
    health_checks: dict[str, HealthCheck] = {"model": status.health}
    if gateway is not None:
        health_checks["gateway"] = lambda: (True, gateway.name)
    return Wiring(
        specs=specs,
        inference=inference,
        sessions=SessionGateway(peers, reply_timeout_s=config.reply_timeout_s),
        gateway=gateway,
        health_checks=health_checks,
        metrics=[inference_metrics],
    )
