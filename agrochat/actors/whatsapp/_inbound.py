"""What the gateways tell us, as small frozen values: the same four kinds from WAHA and Cloud API.

Both gateways deliver at least once (WAHA redelivers, Meta retries a webhook until it gets a
200), so every value carries the gateway's own ids: ``message_id`` is the key the owner
deduplicates on against the database; ``event_id`` (WAHA's envelope id) is there for logs.

``session`` names which of our numbers the event concerns: the WAHA session name, or the Cloud
API ``phone_number_id`` that received the webhook. Several numbers are several sessions, and a
reply goes out through the one the producer wrote to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["waha", "cloud"]

# One delivery vocabulary for both gateways: Cloud API ``statuses[].status`` uses these words;
# WAHA's ``ackName`` maps onto them (PENDING -> pending, SERVER -> sent, DEVICE -> delivered,
# READ and PLAYED -> read, ERROR -> failed).
DeliveryState = Literal["pending", "sent", "delivered", "read", "failed"]


@dataclass(frozen=True)
class InboundMessage:
    """A producer wrote to one of our numbers (direct chat only; groups and channels never)."""

    source: Source
    session: str
    chat_id: str  # the gateway's address for the chat: "51987654321@c.us" (WAHA), wa_id (Cloud)
    phone: str  # canonical digits (agrochat.phones)
    message_id: str  # "false_51987654321@c.us_3EB0…" (WAHA) or "wamid.…" (Cloud): dedupe on it
    text: str  # the body; for media, its caption or ""
    timestamp: float  # when the producer sent it, seconds since the epoch
    has_media: bool = False
    media_type: str | None = None  # None for text; else the gateway's type: image, ptt, sticker…
    event_id: str | None = None  # WAHA's "evt_…" envelope id; None from catch-up and Cloud
    # Where the gateway keeps the file: WAHA's path under /api/files/, the Cloud API's media id.
    media_source: str | None = None
    media_mimetype: str | None = None

    @property
    def is_text(self) -> bool:
        return self.media_type is None


@dataclass(frozen=True)
class SessionStatus:
    """A gateway session changed state (WAHA ``session.status``)."""

    source: Source
    session: str
    status: str  # STOPPED | STARTING | SCAN_QR_CODE | WORKING | FAILED (WAHA's words)
    timestamp: float
    me: str | None = None  # the linked phone's digits, once WORKING
    event_id: str | None = None


@dataclass(frozen=True)
class DeliveryStatus:
    """What became of a message we sent (WAHA ``message.ack``, Cloud ``statuses``)."""

    source: Source
    session: str
    message_id: str  # the id the transport returned when sending
    status: DeliveryState
    phone: str | None  # the recipient, when the gateway says
    timestamp: float
    error: str | None = None  # why it failed, in the gateway's words
    event_id: str | None = None


@dataclass(frozen=True)
class Reaction:
    """A producer reacted to one of our messages; ``emoji`` is "" when the reaction was removed."""

    source: Source
    session: str
    phone: str
    message_id: str  # the reaction's own id (dedupe key)
    target_message_id: str  # the message reacted to: one we sent
    emoji: str
    timestamp: float
    event_id: str | None = None


InboundEvent = InboundMessage | SessionStatus | DeliveryStatus | Reaction
