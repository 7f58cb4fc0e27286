"""WhatsApp: the actor that sends the outbox through a gateway transport."""

from agrochat.actors.whatsapp._actor import WhatsAppActor
from agrochat.actors.whatsapp._sender import OutboxSender
from agrochat.actors.whatsapp._transports import (
    ConsoleTransport,
    Transport,
    TransportError,
    WahaClient,
    make_transport,
)

__all__ = [
    "ConsoleTransport",
    "OutboxSender",
    "Transport",
    "TransportError",
    "WahaClient",
    "WhatsAppActor",
    "make_transport",
]
