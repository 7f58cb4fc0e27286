"""Inbox: what the gateways tell us, made durable before anyone acts on it.

Both gateways deliver at least once: WAHA redelivers events and our own catch-up fetches
messages again, Meta retries a webhook until it gets a 200. So a producer's message is stored
(``received``, under the gateway's id, with the number it came to) before its session is told,
and a message already stored is not handed over again once answered: one event, one answer,
across restarts. A stored message whose session never answered (agrochat stopped, the
hand-over was lost) is found by ``waiting`` (the WhatsApp actor's sweep) and handed over again;
the session answers a ``received`` row once and replays anything else.

Delivery receipts and reactions only update rows (the outbox's delivery state, the reply's
reaction); a gateway's session status goes to ``GatewayState``.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass

from agrochat.actors.whatsapp._inbound import (
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    Reaction,
    SessionStatus,
)
from agrochat.actors.whatsapp._state import GatewayState
from agrochat.logs import get_logger
from agrochat.messages import Incoming
from agrochat.persistence import (
    Database,
    DuplicateMessage,
    MessageStore,
    OutboxStore,
    ProducerStore,
    utcnow,
)
from agrochat.text import mask_phone

log = get_logger(__name__)

# WhatsApp's free-reply window: older messages are not worth answering any more.
ANSWERABLE_FOR = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Accepted:
    """A producer's message stored and handed to their session."""

    incoming: Incoming
    message: InboundMessage
    # A person on the team has the conversation: no read receipt or typing from the assistant.
    taken_over: bool


class Inbox:
    def __init__(
        self,
        database: Database,
        *,
        deliver: Callable[[Incoming], None],
        state: GatewayState | None = None,
        reply_timeout_s: float = 120.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """``deliver`` hands an Incoming to the producers' sessions (a tell; it may raise when
        they are restarting: the message stays ``received`` and ``waiting`` finds it)."""
        self.messages = MessageStore(database)
        self.producers = ProducerStore(database)
        self.outbox = OutboxStore(database)
        self.deliver = deliver
        self.state = state
        self.reply_timeout_s = reply_timeout_s
        self.clock = clock
        self.accepted = 0
        self.duplicates = 0

    def accept(self, event: InboundEvent) -> Accepted | None:
        """Store what ``event`` says; for a new producer message, hand it to their session."""
        if isinstance(event, InboundMessage):
            return self._message(event)
        if isinstance(event, DeliveryStatus):
            if not self.outbox.record_delivery(
                event.message_id, event.status, error=event.error, now=self.clock()
            ):
                log.debug("delivery status for a message we did not send", status=event.status)
        elif isinstance(event, Reaction):
            self._reaction(event)
        elif isinstance(event, SessionStatus):
            if self.state is not None:
                self.state.session_changed(event.session, event.status, me=event.me)
            log.info("gateway session status", channel=event.session, status=event.status)
        return None

    def _message(self, message: InboundMessage) -> Accepted | None:
        now = self.clock()
        producer, _ = self.producers.get_or_create(message.phone, now=now)
        if self.messages.by_gateway_id(producer.id, message.message_id) is not None:
            # Seen before: answered, or handed over and on its way, or (stored before a crash)
            # found by the WhatsApp actor's sweep, which hands it over again once.
            self.duplicates += 1
            return None
        if producer.channel != message.session:
            # Replies go out through the number the producer last wrote to.
            self.producers.update(producer.id, now=now, channel=message.session)
        try:
            self.messages.add_inbound(
                producer.id,
                message.text,
                gateway_message_id=message.message_id,
                media_type=message.media_type,
                media_source=message.media_source,
                media_mimetype=message.media_mimetype,
                now=now,
            )
        except DuplicateMessage:
            # The same event on two paths at once (the socket and the catch-up).
            self.duplicates += 1
            return None
        self.accepted += 1
        log.info(
            "message received",
            producer=mask_phone(message.phone),
            channel=message.session,
            media=message.media_type,
        )
        return self._hand_over(message, producer.taken_over)

    def _hand_over(self, message: InboundMessage, taken_over: bool) -> Accepted:
        incoming = self.incoming(message.phone, message.text, message.message_id, message.source)
        try:
            self.deliver(incoming)
        except Exception as exc:
            log.warning("could not hand a message to its session yet", error=str(exc))
        return Accepted(incoming=incoming, message=message, taken_over=taken_over)

    def incoming(self, phone: str, text: str, message_id: str, source: str) -> Incoming:
        return Incoming(
            phone=phone,
            text=text,
            received_at=time.time(),
            deadline=time.monotonic() + self.reply_timeout_s,
            source=source,
            message_id=message_id,
            request_id=uuid.uuid4().hex,
        )

    def _reaction(self, reaction: Reaction) -> None:
        producer = self.producers.get(reaction.phone)
        if producer is None or not self.messages.record_reaction(
            producer.id, reaction.target_message_id, reaction.emoji, now=self.clock()
        ):
            log.debug("reaction to a message we did not send")
            return
        log.info("reaction", producer=mask_phone(reaction.phone), emoji=reaction.emoji)

    def waiting(
        self,
        *,
        older_than_s: float = 0.0,
        channels: Collection[str] | None = None,
        default_channel: str | None = None,
    ) -> list[Incoming]:
        """Gateways' messages stored at least ``older_than_s`` ago and never answered (within
        WhatsApp's 24-hour window), oldest first, as Incomings to hand over again; only from
        producers who write to ``channels`` when given (another process owns the others;
        ``default_channel``: where a producer with no number yet writes)."""
        now = self.clock()
        rows = self.messages.waiting_gateway_messages(
            since=now - ANSWERABLE_FOR,
            before=now - dt.timedelta(seconds=older_than_s),
            channels=channels,
            default_channel=default_channel,
        )
        return [
            self.incoming(phone, m.text, m.gateway_message_id or "", "gateway")
            for phone, m in rows
            if m.gateway_message_id
        ]
