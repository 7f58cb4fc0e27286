"""WhatsApp: the actor that sends the outbox through a gateway transport, and the gateway pieces
it is built from (WAHA's event stream and API, the Cloud API's webhook and Graph client, message
splitting and send-rate limits)."""

from agrochat.actors.whatsapp._actor import WhatsAppActor, WhatsAppProxy
from agrochat.actors.whatsapp._inbound import (
    DeliveryState,
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    Reaction,
    SessionStatus,
)
from agrochat.actors.whatsapp._sender import OutboxSender
from agrochat.actors.whatsapp._transports import (
    ChatSummary,
    ConsoleTransport,
    QrCode,
    Transport,
    TransportError,
    WahaClient,
    make_transport,
)
from agrochat.actors.whatsapp._waha_events import (
    StreamState,
    StreamStatus,
    WahaEventStream,
    events_url,
    exponential_backoff,
    slow_retry,
)
from agrochat.actors.whatsapp._waha_payloads import SUBSCRIBED_EVENTS, chat_kind, parse_frame

__all__ = [
    "SUBSCRIBED_EVENTS",
    "ChatSummary",
    "ConsoleTransport",
    "DeliveryState",
    "DeliveryStatus",
    "InboundEvent",
    "InboundMessage",
    "OutboxSender",
    "QrCode",
    "Reaction",
    "SessionStatus",
    "StreamState",
    "StreamStatus",
    "Transport",
    "TransportError",
    "WahaClient",
    "WahaEventStream",
    "WhatsAppActor",
    "WhatsAppProxy",
    "chat_kind",
    "events_url",
    "exponential_backoff",
    "make_transport",
    "parse_frame",
    "slow_retry",
]
