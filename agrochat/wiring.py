"""Which actors agrochat runs and how each is built: the child specs, in dependency order.

inference  owns the model; talks to no one
whatsapp   sends the outbox through the gateway; tells "alerts" what was delivered
sessions   one actor per producer; asks inference, tells whatsapp
alerts     ticks, claims due alerts, tells "sessions" to deliver them in each producer's order

Peers are looked up through the supervisor at call time, so a restarted actor is found again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agrochat.supervisor import ChildSpec

if TYPE_CHECKING:
    from agrochat.app import Agrochat


def children(app: Agrochat) -> list[ChildSpec]:
    from agrochat.actors.alerts import AlertSchedulerActor
    from agrochat.actors.inference import InferenceActor, InferenceClient, ModelStatus
    from agrochat.actors.inference import render_metrics as inference_metrics
    from agrochat.actors.session import SessionDirectory, SessionGateway
    from agrochat.actors.whatsapp import WhatsAppActor, make_transport

    config, database, context = app.config, app.database, app.context
    assert database is not None and context is not None, "wired after the database is open"
    peers = app  # Agrochat.proxy/ref resolve through the supervisor once it exists

    # The model's state is read by /health while the actor's mailbox is blocked loading it.
    status = ModelStatus()
    context.health_checks["model"] = status.health
    context.metrics.append(inference_metrics)
    # One client for /chat and every session: the queue bound is global to the model.
    inference = InferenceClient(peers, queue_limit=config.inference_queue, status=status)
    context.inference = inference
    context.sessions = SessionGateway(peers, reply_timeout_s=config.reply_timeout_s)

    specs = [ChildSpec(id="inference", start=lambda: InferenceActor.start(config, status=status))]
    transport = make_transport(config)
    if transport is not None:
        context.health_checks["gateway"] = lambda: (True, config.whatsapp)
        specs.append(
            ChildSpec(
                id="whatsapp",
                start=lambda: WhatsAppActor.start(
                    config, database=database, transport=transport, peers=peers
                ),
            )
        )
    specs.append(
        ChildSpec(
            id="sessions",
            start=lambda: SessionDirectory.start(
                config, database=database, peers=peers, inference=inference
            ),
        )
    )
    specs.append(
        ChildSpec(
            id="alerts",
            start=lambda: AlertSchedulerActor.start(config, database=database, peers=peers),
        )
    )
    return specs
