"""WhatsApp Business Cloud API: the webhook's handshake, signature and body, and CloudClient.

Sources (Meta's developer documentation, developers.facebook.com):
- webhooks (whatsapp/webhooks, graph-api/webhooks/getting-started): the GET handshake sends
  ``hub.mode=subscribe``, ``hub.verify_token`` and ``hub.challenge``; answer the challenge, 200,
  when the token is ours. Every POST carries ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of
  the raw body, keyed with the app secret>``;
- the body: ``{"object": "whatsapp_business_account", "entry": [{"id": <WABA id>, "changes":
  [{"field": "messages", "value": {"messaging_product": "whatsapp", "metadata":
  {"display_phone_number", "phone_number_id"}, "contacts": [...], "messages": [...],
  "statuses": [...]}}]}]}``; a message has ``from`` (the wa_id, digits), ``id`` ("wamid.…"),
  ``timestamp`` (seconds, as a string) and ``type`` with an object of that name (``text.body``,
  ``image.caption``…); a reaction is ``{"type": "reaction", "reaction": {"message_id",
  "emoji"}}``, the emoji left out when the reaction is removed (webhooks reference, reaction);
  a status is ``{"id", "status": sent|delivered|read|failed, "timestamp", "recipient_id",
  "errors": [{"code", "title", "message", "error_data": {"details"}}]}``;
- sending (whatsapp/cloud-api/reference/messages): ``POST {graph}/{version}/{phone-number-id}/
  messages`` with ``Authorization: Bearer <token>``, ``{"messaging_product": "whatsapp",
  "recipient_type": "individual", "to", "type": "text", "text": {"body"}}`` (body at most 4096
  characters) or ``"type": "template", "template": {"name", "language": {"code"},
  "components"}``; the answer's ``messages[0].id`` is the wamid;
- errors (whatsapp/support/error-codes, graph-api/guides/error-handling): ``{"error":
  {"message", "type", "code", "error_data": {"details"}, "fbtrace_id"}}``; Meta asks to decide on
  ``code``, not on titles or HTTP statuses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from agrochat.actors.whatsapp._inbound import (
    DeliveryState,
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    Reaction,
)
from agrochat.actors.whatsapp._media import GENERIC_TYPES, Media, bare_type, download
from agrochat.actors.whatsapp._transports import TransportError
from agrochat.errors import BadMedia, BadRequest, Forbidden, MediaUnavailable
from agrochat.logs import get_logger
from agrochat.phones import normalize_phone

log = get_logger(__name__)

GRAPH_URL = "https://graph.facebook.com"
# The version Meta's reference pages use in their examples at the time of writing; a setting.
DEFAULT_API_VERSION = "v25.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"

# Codes worth a later retry (the outbox backs off): throttling and Meta's own outages.
RETRYABLE_CODES: dict[int, str] = {
    1: "API Unknown (possibly temporary downtime)",
    2: "API Service (temporary downtime or overload)",
    4: "API Too Many Calls (app rate limit)",
    17: "API User Too Many Calls",
    341: "Application limit reached",
    80007: "Rate limit issues (WhatsApp Business Account)",
    130429: "Rate limit hit (the number's throughput)",
    131000: "Something went wrong",
    131016: "Service unavailable",
    131048: "Spam rate limit hit",
    131056: "Pair rate limit hit (too many messages to this producer)",
    133004: "Server temporarily unavailable",
}
# The access token is refused: the message is fine, the configuration is not. Kept retryable,
# as WahaClient does for a refused key, so a fixed token sends what waited.
AUTH_CODES = frozenset({0, 190})
# Outside the customer service window only a template reaches the producer.
REENGAGEMENT_CODE = 131047
# Message types whose object is a downloadable file (has_media); every other non-text type is
# flagged by its type alone (location, contacts, order, unsupported…).
_MEDIA_OBJECTS = frozenset({"image", "video", "audio", "document", "sticker"})
_STATES: frozenset[str] = frozenset({"sent", "delivered", "read", "failed"})


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str:
    """The webhook's GET handshake: the challenge to echo (as the 200 body, text/plain).

    Raises ``Forbidden`` (403) for a wrong mode or token, and always while no verify token is
    configured: an empty setting must not let anyone subscribe a webhook.
    """
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge")
    if (
        mode != "subscribe"
        or not verify_token
        or not challenge
        or not hmac.compare_digest(token.encode(), verify_token.encode())
    ):
        raise Forbidden("webhook verification refused")
    return challenge


def check_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``X-Hub-Signature-256`` signs these exact bytes with our app secret.

    Checked over the raw body as received (re-serialized JSON would differ), in constant time.
    A missing or malformed header, or no app secret configured, is a refusal.
    """
    if not app_secret or not header:
        return False
    scheme, _, digest = header.strip().partition("=")
    if scheme.strip().lower() != "sha256" or len(digest) != 64:
        return False
    try:
        given = bytes.fromhex(digest)
    except ValueError:
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)


def parse_webhook(body: bytes | str | Mapping[str, Any]) -> list[InboundEvent]:
    """Every event in one webhook delivery, in the order Meta listed them.

    Raises ``BadRequest`` for a body that is not a JSON object; parts agrochat does not use
    (other fields, other objects, groups, system messages) are skipped.
    """
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except ValueError:
            raise BadRequest("the webhook body is not JSON") from None
    else:
        data = body
    if not isinstance(data, Mapping):
        raise BadRequest("the webhook body is not a JSON object")
    if data.get("object") != "whatsapp_business_account":
        return []
    events: list[InboundEvent] = []
    for entry in _objects(data.get("entry")):
        for change in _objects(entry.get("changes")):
            if change.get("field") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, Mapping):
                continue
            metadata = value.get("metadata")
            number_id = metadata.get("phone_number_id") if isinstance(metadata, Mapping) else None
            if not isinstance(number_id, str) or not number_id:
                continue
            for message in _objects(value.get("messages")):
                event = _message(message, number_id)
                if event is not None:
                    events.append(event)
            for status in _objects(value.get("statuses")):
                delivery = _status(status, number_id)
                if delivery is not None:
                    events.append(delivery)
    return events


def _objects(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _message(message: Mapping[str, Any], number_id: str) -> InboundMessage | Reaction | None:
    sender, message_id, kind = message.get("from"), message.get("id"), message.get("type")
    if not isinstance(message_id, str) or not isinstance(kind, str) or kind == "system":
        return None
    if message.get("group_id"):  # group messages (Groups API): agrochat answers people only
        return None
    try:
        phone = normalize_phone(sender)
    except ValueError:
        log.warning("cloud message from an unreadable sender ignored")
        return None
    timestamp = _seconds(message.get("timestamp"))
    body = message.get(kind)
    if not isinstance(body, Mapping):
        body = {}
    if kind == "reaction":
        target = body.get("message_id")
        if not isinstance(target, str):
            return None
        emoji = body.get("emoji")
        return Reaction(
            source="cloud",
            session=number_id,
            phone=phone,
            message_id=message_id,
            target_message_id=target,
            emoji=emoji if isinstance(emoji, str) else "",  # left out when removed
            timestamp=timestamp,
        )
    text, media_type = _content(kind, body)
    media_id = body.get("id") if kind in _MEDIA_OBJECTS else None
    mimetype = body.get("mime_type") if kind in _MEDIA_OBJECTS else None
    return InboundMessage(
        source="cloud",
        session=number_id,
        chat_id=str(sender),
        phone=phone,
        message_id=message_id,
        text=text,
        timestamp=timestamp,
        has_media=kind in _MEDIA_OBJECTS,
        media_type=media_type,
        # The media object's id: GET /{media-id} gives a short-lived URL to download it from.
        media_source=media_id if isinstance(media_id, str) and media_id else None,
        media_mimetype=mimetype if isinstance(mimetype, str) and mimetype else None,
    )


def _content(kind: str, body: Mapping[str, Any]) -> tuple[str, str | None]:
    """(text, media type or None for text)."""
    if kind == "text":
        return _str(body.get("body")), None
    if kind == "button":  # a template's quick-reply button: its label is the answer
        return _str(body.get("text")), None
    if kind == "interactive":
        for reply in ("button_reply", "list_reply"):
            chosen = body.get(reply)
            if isinstance(chosen, Mapping):
                return _str(chosen.get("title")), None
        return "", kind
    # image, video, document carry an optional caption; audio, sticker, location, contacts,
    # order, unsupported… carry nothing the farmer typed.
    return _str(body.get("caption")), kind


def _status(status: Mapping[str, Any], number_id: str) -> DeliveryStatus | None:
    message_id, state = status.get("id"), status.get("status")
    if not isinstance(message_id, str) or state not in _STATES:
        return None
    recipient = status.get("recipient_id")
    try:
        phone: str | None = normalize_phone(recipient)
    except ValueError:
        phone = None
    errors = _objects(status.get("errors"))
    delivery_state: DeliveryState = state  # type: ignore[assignment]
    return DeliveryStatus(
        source="cloud",
        session=number_id,
        message_id=message_id,
        status=delivery_state,
        phone=phone,
        timestamp=_seconds(status.get("timestamp")),
        error=_describe(errors[0]) if errors else None,
    )


def _describe(error: Mapping[str, Any]) -> str:
    code = error.get("code")
    title = error.get("title") or error.get("message") or "error"
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, Mapping) else None
    text = f"{code}: {title}" if code is not None else str(title)
    return f"{text} ({details})" if details and details != title else text


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _seconds(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def graph_error(status: int, body: object) -> TransportError:
    """The ``TransportError`` for a Graph API error answer: retryable for throttling and Meta's
    outages (HTTP 429 or 5xx, or a code in ``RETRYABLE_CODES``), and for a refused token (a
    configuration error the message should survive); not retryable otherwise, with the API's
    own message as the reason. 131047 (outside the 24 h window) is not retryable: a text will
    never get through; the scheduler's template will."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        retryable = status == 429 or status >= 500 or status == 408
        return TransportError(f"Graph API error {status} without details", retryable=retryable)
    code = error.get("code")
    message = _str(error.get("message")) or "no message"
    data = error.get("error_data")
    details = _str(data.get("details")) if isinstance(data, Mapping) else ""
    reason = f"Cloud API error {code}: {message}" + (f" ({details})" if details else "")
    if code == REENGAGEMENT_CODE:
        return TransportError(
            f"{reason}: outside the 24 h window only an approved template reaches this producer",
            retryable=False,
        )
    if code in AUTH_CODES or status == 401:
        return TransportError(
            f"Cloud API refused the access token ({code}): check AGROCHAT_CLOUD_TOKEN",
            retryable=True,
        )
    retryable = code in RETRYABLE_CODES or status == 429 or status >= 500
    return TransportError(reason, retryable=retryable)


class CloudClient:
    """Sends through the Graph API messages endpoint of one business phone number.

    Same ``Transport`` protocol as ``WahaClient``: returns the wamid (None in the unexpected case
    of an accepted message without one) or raises
    ``TransportError(retryable=…)``; it never retries by itself (the outbox does, with backoff).
    With ``template``, sends that approved template in ``template_language``; the text goes as
    its one body parameter ({{1}}) unless ``template_text_param`` is False.
    """

    name = "cloud"

    def __init__(
        self,
        phone_number_id: str,
        *,
        token: str,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str = GRAPH_URL,
        template_language: str = "es",
        template_text_param: bool = True,
        timeout_s: float = 15.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.phone_number_id = phone_number_id
        self.graph = f"{base_url.rstrip('/')}/{api_version}"
        self.url = f"{self.graph}/{phone_number_id}/messages"
        self.template_language = template_language
        self.template_text_param = template_text_param
        self.client = client or httpx.Client(timeout=timeout_s)
        self._headers = {"Authorization": f"Bearer {token}"}

    def send(self, phone: str, text: str, *, template: str | None = None) -> str | None:
        to = normalize_phone(phone)
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
        }
        if template:
            spec: dict[str, Any] = {"name": template, "language": {"code": self.template_language}}
            if self.template_text_param:
                spec["components"] = [
                    {"type": "body", "parameters": [{"type": "text", "text": text}]}
                ]
            body.update(type="template", template=spec)
        else:
            body.update(type="text", text={"preview_url": False, "body": text})
        try:
            response = self.client.post(self.url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"Graph API unreachable: {type(exc).__name__}", retryable=True
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise graph_error(response.status_code, data)
        messages = data.get("messages") if isinstance(data, Mapping) else None
        first = messages[0] if isinstance(messages, list) and messages else None
        message_id = first.get("id") if isinstance(first, Mapping) else None
        if not isinstance(message_id, str) or not message_id:
            # Accepted, so sent (sending again would duplicate it); only its statuses cannot be
            # matched to it.
            log.warning("Graph API accepted a message without an id", status=response.status_code)
            return None
        return message_id

    def download_media(self, source: str, *, max_bytes: int) -> Media:
        """A received file by its media id: ``GET /{media-id}`` gives a short-lived URL (and
        the size), which is then fetched with the same bearer token (Meta's "Download Media")."""
        try:
            url = f"{self.graph}/{quote(source, safe='')}"
            response = self.client.get(url, headers=self._headers)
        except httpx.HTTPError as exc:
            raise MediaUnavailable(
                f"Graph API unreachable: {type(exc).__name__}", retryable=True
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400 or not isinstance(data, Mapping):
            error = graph_error(response.status_code, data)
            raise MediaUnavailable(str(error), retryable=error.retryable)
        file_url = data.get("url")
        if not isinstance(file_url, str) or not file_url.startswith(("https://", "http://")):
            raise MediaUnavailable("Graph API gave no URL for the media", retryable=False)
        size = data.get("file_size")
        if isinstance(size, int) and size > max_bytes:
            raise BadMedia("too_big", f"file of {size} bytes")
        media = download(
            self.client, file_url, headers=self._headers, max_bytes=max_bytes, gateway="Cloud API"
        )
        declared = data.get("mime_type")
        if media.mimetype in GENERIC_TYPES and isinstance(declared, str):
            return Media(content=media.content, mimetype=bare_type(declared))
        return media

    def close(self) -> None:
        self.client.close()
