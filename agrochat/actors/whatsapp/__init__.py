"""WhatsApp, both ways: the actor that owns agrochat's numbers (what producers write comes in
through the Inbox, replies and alerts go out through the outbox), and the gateway pieces it is
built from (WAHA's event stream and API, the Cloud API's webhook and Graph client, message
splitting and send-rate limits, each number's state)."""

from agrochat.actors.whatsapp._actor import WhatsAppActor
from agrochat.actors.whatsapp._channels import Channel, Channels, make_channels
from agrochat.actors.whatsapp._cloud import (
    DEFAULT_API_VERSION,
    RETRYABLE_CODES,
    SIGNATURE_HEADER,
    CloudClient,
    check_signature,
    graph_error,
    parse_webhook,
    verify_subscription,
)
from agrochat.actors.whatsapp._inbound import (
    DeliveryState,
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    Reaction,
    SessionStatus,
)
from agrochat.actors.whatsapp._inbox import Accepted, Inbox
from agrochat.actors.whatsapp._media import Media
from agrochat.actors.whatsapp._outgoing import (
    CLOUD_TEXT_LIMIT,
    WAHA_TEXT_LIMIT,
    SendRateLimiter,
    TokenBucket,
    split_message,
)
from agrochat.actors.whatsapp._sender import OutboxSender
from agrochat.actors.whatsapp._state import SCAN_QR_CODE, ChannelStatus, GatewayState
from agrochat.actors.whatsapp._transports import (
    ChatSummary,
    ConsoleTransport,
    QrCode,
    Transport,
    TransportError,
    WahaClient,
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
    "CLOUD_TEXT_LIMIT",
    "DEFAULT_API_VERSION",
    "RETRYABLE_CODES",
    "SCAN_QR_CODE",
    "SIGNATURE_HEADER",
    "SUBSCRIBED_EVENTS",
    "WAHA_TEXT_LIMIT",
    "Accepted",
    "Channel",
    "ChannelStatus",
    "Channels",
    "ChatSummary",
    "CloudClient",
    "ConsoleTransport",
    "DeliveryState",
    "DeliveryStatus",
    "GatewayState",
    "InboundEvent",
    "InboundMessage",
    "Inbox",
    "Media",
    "OutboxSender",
    "QrCode",
    "Reaction",
    "SendRateLimiter",
    "SessionStatus",
    "StreamState",
    "StreamStatus",
    "TokenBucket",
    "Transport",
    "TransportError",
    "WahaClient",
    "WahaEventStream",
    "WhatsAppActor",
    "chat_kind",
    "check_signature",
    "events_url",
    "exponential_backoff",
    "graph_error",
    "make_channels",
    "parse_frame",
    "parse_webhook",
    "slow_retry",
    "split_message",
    "verify_subscription",
]
