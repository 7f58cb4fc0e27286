"""WAHA's JSON, read into ``_inbound`` values: the websocket's events and the chats API's messages.

Shapes (WEBJS engine), from WAHA's docs (devlikeapro/waha-docs, content/docs/how-to/events and
how-to/chats) and its source (devlikeapro/waha, src/core/engines/webjs/session.webjs.core.ts,
``toWAMessage``):

- an event is ``{"id": "evt_…", "timestamp": <ms>, "event": "message", "session": "default",
  "me": {"id": "519…@c.us", "pushName": …}, "payload": {…}, "engine": "WEBJS", …}``;
- a message (event payload, and each item of ``GET /api/{session}/chats/{chatId}/messages``) is
  ``{"id": "false_519…@c.us_3EB0…", "timestamp": <s>, "from": "519…@c.us", "fromMe": false,
  "to": …, "body": …, "hasMedia": false, "media": …, "ack": 1, "ackName": "SERVER",
  "location": …, "_data": {"type": "chat" | "image" | "ptt" | …, …}}``;
- ``message.ack``: the sent message again, with ``ack`` -1..4 and ``ackName`` ERROR, PENDING,
  SERVER, DEVICE, READ, PLAYED;
- ``message.reaction``: ``{"id", "from", "fromMe", "to", "timestamp",
  "reaction": {"text": "👍" or "" when removed, "messageId": "true_…"}}``;
- ``session.status``: ``{"status": "WORKING", "statuses": [...], "data": …}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from agrochat.actors.whatsapp._inbound import (
    DeliveryState,
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    Reaction,
    SessionStatus,
)
from agrochat.logs import get_logger
from agrochat.phones import normalize_phone

log = get_logger(__name__)

# Where WAHA serves the files of received media (WAHA_DOWNLOAD_MEDIA, waha-docs
# how-to/receive-messages "media"): GET /api/files/{session}/{message id}.{ext}, with the key.
FILES_PREFIX = "/api/files/"

# The events agrochat subscribes to (WAHA's WAHAEvents names).
SUBSCRIBED_EVENTS = ("message", "session.status", "message.ack", "message.reaction")

ChatKind = Literal["direct", "group", "newsletter", "broadcast", "lid", "other"]

# WAHA's chat id suffixes (waha-docs, how-to/send-messages, "chatId"): c.us a phone's chat
# (s.whatsapp.net is NOWEB's spelling of it), g.us a group, newsletter a WhatsApp Channel,
# broadcast for status@broadcast (stories) and broadcast lists, lid a hidden user id with no
# phone number in it.
_SUFFIX_KINDS: tuple[tuple[str, ChatKind], ...] = (
    ("@c.us", "direct"),
    ("@s.whatsapp.net", "direct"),
    ("@g.us", "group"),
    ("@newsletter", "newsletter"),
    ("@broadcast", "broadcast"),
    ("@lid", "lid"),
)

# whatsapp-web.js message types that are WhatsApp's own bookkeeping, not something a person
# wrote: no answer is owed for them.
_SYSTEM_TYPES = frozenset(
    {
        "e2e_notification",
        "notification",
        "notification_template",
        "gp2",
        "protocol",
        "call_log",
        "revoked",
        "ciphertext",
        "broadcast_notification",
    }
)

_ACK_BY_NAME: dict[str, DeliveryState] = {
    "ERROR": "failed",
    "PENDING": "pending",
    "SERVER": "sent",
    "DEVICE": "delivered",
    "READ": "read",
    "PLAYED": "read",
}
_ACK_BY_NUMBER: dict[int, DeliveryState] = {-1: "failed", 0: "pending", 1: "sent", 2: "delivered"}


def chat_kind(chat_id: object) -> ChatKind:
    if not isinstance(chat_id, str):
        return "other"
    lowered = chat_id.lower()
    for suffix, kind in _SUFFIX_KINDS:
        if lowered.endswith(suffix):
            return kind
    return "other"


def parse_message(
    payload: Mapping[str, Any], *, session: str, event_id: str | None = None
) -> InboundMessage | None:
    """A producer's message, or None for what agrochat must not answer.

    Ignored: our own messages (``fromMe``: WAHA sends those to ``message`` too when written from
    the phone), groups, channels, status@broadcast, hidden ``@lid`` senders (no phone number to
    file them under) and WhatsApp's system notifications.
    """
    if payload.get("fromMe"):
        return None
    sender = payload.get("from")
    kind = chat_kind(sender)
    if kind != "direct":
        if kind == "lid":
            # WAHA can resolve a lid to a phone (GET /api/{session}/lids/{lid}); not done yet.
            log.warning("waha message from a hidden id ignored", session=session, chat=sender)
        return None
    assert isinstance(sender, str)
    try:
        phone = normalize_phone(sender)
    except ValueError:
        log.warning("waha message from an unreadable chat id ignored", chat=sender)
        return None
    message_id = payload.get("id")
    if isinstance(message_id, Mapping):  # some engines send {"_serialized": …}
        message_id = message_id.get("_serialized")
    if not isinstance(message_id, str) or not message_id:
        return None
    data = payload.get("_data")
    if not isinstance(data, Mapping):
        data = {}
    raw_type = data.get("type")
    if raw_type in _SYSTEM_TYPES:
        return None
    has_media = bool(payload.get("hasMedia"))
    media_type = _media_type(payload, raw_type, has_media)
    body = payload.get("body")
    if media_type is None:
        text = body if isinstance(body, str) else ""
    else:
        # For media, whatsapp-web.js puts the caption in _data.caption; ``body`` can hold a
        # base64 thumbnail (locations, some images), which is not something the farmer wrote.
        caption = data.get("caption")
        text = caption if isinstance(caption, str) else ""
    media = payload.get("media")
    if not isinstance(media, Mapping):
        media = {}
    mimetype = media.get("mimetype")
    return InboundMessage(
        source="waha",
        session=session,
        chat_id=sender,
        phone=phone,
        message_id=message_id,
        text=text,
        timestamp=_seconds(payload.get("timestamp")),
        has_media=has_media,
        media_type=media_type,
        event_id=event_id,
        media_source=media_path(media.get("url")) if has_media else None,
        media_mimetype=mimetype if isinstance(mimetype, str) and mimetype else None,
    )


def media_path(url: object) -> str | None:
    """The path of WAHA's file URL (``/api/files/{session}/{file}``), or None for anything else.

    Only the path is kept: the URL's host is WAHA's WAHA_BASE_URL, which is often not how we
    reach it (a container's name, localhost inside its container), and WAHA's key must never
    go to a host a payload names. We fetch the path from AGROCHAT_WAHA_URL.
    """
    if not isinstance(url, str) or not url:
        return None
    path = urlsplit(url).path
    if not path.startswith(FILES_PREFIX) or ".." in path.split("/"):
        return None
    return path


def _media_type(payload: Mapping[str, Any], raw_type: object, has_media: bool) -> str | None:
    if isinstance(raw_type, str) and raw_type and raw_type != "chat":
        return raw_type
    if payload.get("location"):
        return "location"
    if payload.get("vCards"):
        return "vcard"
    if has_media:
        media = payload.get("media")
        mimetype = media.get("mimetype") if isinstance(media, Mapping) else None
        return mimetype.split("/")[0] if isinstance(mimetype, str) and mimetype else "media"
    return None


def parse_ack(
    payload: Mapping[str, Any], *, session: str, event_id: str | None = None
) -> DeliveryStatus | None:
    """The delivery state of a message we sent; None for groups and other people's messages."""
    if not payload.get("fromMe"):
        return None
    message_id = payload.get("id")
    if not isinstance(message_id, str) or not message_id:
        return None
    # For our own message ``to`` is the producer; some engines put the chat in ``from``.
    chat = payload.get("to") if chat_kind(payload.get("to")) == "direct" else payload.get("from")
    if chat_kind(chat) != "direct":
        return None
    state = _ACK_BY_NAME.get(str(payload.get("ackName") or "").upper())
    ack = payload.get("ack")
    if state is None and isinstance(ack, int) and not isinstance(ack, bool):
        state = _ACK_BY_NUMBER.get(ack) or ("read" if ack >= 3 else None)
    if state is None:
        return None
    return DeliveryStatus(
        source="waha",
        session=session,
        message_id=message_id,
        status=state,
        phone=_phone_or_none(chat),
        timestamp=_seconds(payload.get("timestamp")),
        error="WhatsApp reported an error (ack -1)" if state == "failed" else None,
        event_id=event_id,
    )


def parse_reaction(
    payload: Mapping[str, Any], *, session: str, event_id: str | None = None
) -> Reaction | None:
    """A producer's reaction to a message; None for our own reactions and for groups."""
    if payload.get("fromMe"):
        return None
    sender = payload.get("from")
    if chat_kind(sender) != "direct":
        return None
    reaction = payload.get("reaction")
    if not isinstance(reaction, Mapping):
        return None
    target = reaction.get("messageId")
    message_id = payload.get("id")
    phone = _phone_or_none(sender)
    if not isinstance(target, str) or not isinstance(message_id, str) or phone is None:
        return None
    emoji = reaction.get("text")
    return Reaction(
        source="waha",
        session=session,
        phone=phone,
        message_id=message_id,
        target_message_id=target,
        emoji=emoji if isinstance(emoji, str) else "",
        timestamp=_seconds(payload.get("timestamp")),
        event_id=event_id,
    )


def parse_event(envelope: Mapping[str, Any]) -> InboundEvent | None:
    """One websocket event in WAHA's envelope; None for what agrochat does not act on."""
    event = envelope.get("event")
    session = envelope.get("session")
    payload = envelope.get("payload")
    if not isinstance(session, str) or not isinstance(payload, Mapping):
        return None
    event_id = envelope.get("id") if isinstance(envelope.get("id"), str) else None
    if event == "message":
        return parse_message(payload, session=session, event_id=event_id)
    if event == "message.ack":
        return parse_ack(payload, session=session, event_id=event_id)
    if event == "message.reaction":
        return parse_reaction(payload, session=session, event_id=event_id)
    if event == "session.status":
        status = payload.get("status")
        if not isinstance(status, str):
            return None
        me = envelope.get("me")
        me_id = me.get("id") if isinstance(me, Mapping) else None
        return SessionStatus(
            source="waha",
            session=session,
            status=status,
            # The envelope's timestamp is in milliseconds (waha-docs, "Event Payload").
            timestamp=_seconds(envelope.get("timestamp"), millis=True),
            me=_phone_or_none(me_id),
            event_id=event_id,
        )
    return None


def parse_frame(frame: str | bytes) -> InboundEvent | None:
    """A websocket text frame; None (logged) when it is not an event agrochat understands."""
    try:
        envelope = json.loads(frame)
    except ValueError:
        log.warning("waha sent a frame that is not JSON", size=len(frame))
        return None
    if not isinstance(envelope, Mapping):
        return None
    return parse_event(envelope)


def _phone_or_none(chat: object) -> str | None:
    try:
        return normalize_phone(chat)
    except ValueError:
        return None


def _seconds(value: object, *, millis: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return value / 1000.0 if millis else float(value)
