"""Gateway transports: how one outbox message reaches WhatsApp.

A transport sends one text and returns the gateway's message id, or raises ``TransportError``
saying whether trying again later may work. It never retries by itself: the outbox does, with
backoff, so a retry survives a restart.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TextIO, overload
from urllib.parse import quote

import httpx

from agrochat.actors.whatsapp._inbound import InboundMessage
from agrochat.actors.whatsapp._media import Media, download
from agrochat.actors.whatsapp._waha_payloads import FILES_PREFIX, chat_kind, parse_message
from agrochat.errors import MediaUnavailable
from agrochat.logs import get_logger
from agrochat.phones import chat_id

log = get_logger(__name__)


class TransportError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Transport(Protocol):
    name: str

    def send(self, phone: str, text: str, *, template: str | None = None) -> str | None:
        """Send ``text`` to ``phone`` (canonical digits); the gateway's message id."""
        ...

    def close(self) -> None: ...


class ConsoleTransport:
    """For trying agrochat locally: every message is one JSON line on a stream (stdout)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, phone: str, text: str, *, template: str | None = None) -> str | None:
        message_id = f"console_{uuid.uuid4().hex[:16]}"
        line: dict[str, Any] = {"whatsapp": "out", "id": message_id, "to": chat_id(phone)}
        if template:
            line["template"] = template
        line["text"] = text
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(json.dumps(line, ensure_ascii=False) + "\n")
            stream.flush()
        return message_id

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class QrCode:
    """The QR that links a phone to a WAHA session, as WAHA renders it (a PNG)."""

    image: bytes
    mimetype: str


@dataclass(frozen=True)
class ChatSummary:
    """One row of WAHA's chats overview."""

    chat_id: str
    name: str | None
    last_message_at: float | None  # seconds since the epoch; None for a chat with no messages


class WahaClient:
    """WAHA's HTTP API, with ``X-Api-Key``: sending, read receipts and typing, catch-up, the QR.

    URLs, bodies and status codes (WEBJS engine) from WAHA's source (devlikeapro/waha,
    src/api/chatting.controller.ts, chats.controller.ts, auth.controller.ts) and docs
    (devlikeapro/waha-docs, how-to/send-messages, how-to/chats, how-to/sessions). Every call on a
    session that is not WORKING answers 422 after WAHA waited up to 5 s for it
    (SessionManager.waitUntilStatus); the QR answers 422 unless the status is SCAN_QR_CODE.

    WAHA's WEBJS engine is a WhatsApp Web session, which has no message templates and no 24-hour
    window; an alert the scheduler marked ``template`` goes out as its text.
    """

    name = "waha"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        session: str = "default",
        timeout_s: float = 15.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        headers = {"X-Api-Key": api_key} if api_key else {}
        self.client = client or httpx.Client(timeout=timeout_s, headers=headers)
        if client is not None and api_key:
            self.client.headers["X-Api-Key"] = api_key

    def send(self, phone: str, text: str, *, template: str | None = None) -> str | None:
        body = {"session": self.session, "chatId": chat_id(phone), "text": text}
        response = self._request("POST", "/api/sendText", what="the message", json=body)
        return _message_id(response)

    def send_seen(self, phone: str, *, message_id: str | None = None) -> None:
        """Mark the producer's chat read (the blue ticks): WAHA's advice before replying, to look
        like a person and not a bulk sender (waha-docs, "How to Avoid Blocking")."""
        body: dict[str, Any] = {"session": self.session, "chatId": chat_id(phone)}
        if message_id:
            body["messageId"] = message_id
        self._request("POST", "/api/sendSeen", what="sendSeen", json=body)

    def start_typing(self, phone: str) -> None:
        """Show "escribiendo…" in the producer's chat until ``stop_typing`` or a message."""
        body = {"session": self.session, "chatId": chat_id(phone)}
        self._request("POST", "/api/startTyping", what="startTyping", json=body)

    def stop_typing(self, phone: str) -> None:
        body = {"session": self.session, "chatId": chat_id(phone)}
        self._request("POST", "/api/stopTyping", what="stopTyping", json=body)

    def session_status(self, session: str | None = None) -> str:
        """The session's status now (``GET /api/sessions/{session}``), e.g. at start, before
        any ``session.status`` event arrived; ``session`` defaults to this client's."""
        name = _segment(session or self.session)
        response = self._request("GET", f"/api/sessions/{name}", what="status")
        data = _json(response)
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(status, str):
            raise TransportError("WAHA answered a session without a status", retryable=True)
        return status

    def chats_overview(self, *, limit: int = 100, offset: int = 0) -> list[ChatSummary]:
        """``GET /api/{session}/chats/overview``: the chats with their last message, most recent
        first (the list WAHA's chat UI shows)."""
        response = self._request(
            "GET",
            f"/api/{_segment(self.session)}/chats/overview",
            what="the chats overview",
            params={"limit": limit, "offset": offset},
        )
        rows = _json(response)
        if not isinstance(rows, list):
            raise TransportError("WAHA answered the chats overview with no list", retryable=True)
        chats = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                continue
            last = row.get("lastMessage")
            at = last.get("timestamp") if isinstance(last, dict) else None
            name = row.get("name")
            chats.append(
                ChatSummary(
                    chat_id=row["id"],
                    name=name if isinstance(name, str) else None,
                    last_message_at=float(at) if isinstance(at, int | float) else None,
                )
            )
        return chats

    def active_chats(self, since: float, *, page: int = 100, most: int = 5000) -> list[str]:
        """The producers' chats (direct chats only) whose last message is at or after ``since``,
        most recent first.

        The overview comes most recent first, a page at a time: pages are read until one ends
        before ``since`` (or ``most`` chats were read). One page is not enough: while the
        socket was down our own replies and alerts kept other chats recent, and a chat a
        producer wrote to meanwhile may be far down the list. The list moves while it is read
        (a chat that gets a message jumps to the top, past the page boundary), so the first
        page is read once more at the end: a chat that jumped is there."""
        found: dict[str, None] = {}
        pages = 0
        for offset in range(0, most, page):
            chats = self.chats_overview(limit=page, offset=offset)
            pages += 1
            self._recent(chats, since, found)
            older = any(c.last_message_at is not None and c.last_message_at < since for c in chats)
            if len(chats) < page or older:
                break
        if pages > 1:
            self._recent(self.chats_overview(limit=page, offset=0), since, found)
        return list(found)

    @staticmethod
    def _recent(chats: list[ChatSummary], since: float, found: dict[str, None]) -> None:
        for chat in chats:
            if (
                chat_kind(chat.chat_id) == "direct"
                and chat.last_message_at is not None
                and chat.last_message_at >= since
            ):
                found.setdefault(chat.chat_id)

    def chat_messages(self, chat: str, *, limit: int = 20) -> list[InboundMessage]:
        """A chat's last ``limit`` messages from the producer, oldest first.

        ``GET /api/{session}/chats/{chatId}/messages?limit=N&downloadMedia=false`` answers newest
        first, our own messages included; they are dropped here by the same rules as the
        websocket's (no ``fromMe``, no groups), so catch-up and live events look alike.
        """
        response = self._request(
            "GET",
            f"/api/{_segment(self.session)}/chats/{_segment(chat)}/messages",
            what="the chat's messages",
            params={"limit": limit, "downloadMedia": "false"},
        )
        rows = _json(response)
        if not isinstance(rows, list):
            raise TransportError("WAHA answered the chat's messages with no list", retryable=True)
        messages = [
            message
            for row in rows
            if isinstance(row, dict)
            and (message := parse_message(row, session=self.session)) is not None
        ]
        return sorted(messages, key=lambda m: m.timestamp)

    def recent_messages(self, since: float, *, per_chat: int = 20) -> list[InboundMessage]:
        """What producers wrote since ``since``, oldest first: the catch-up after the socket was
        down, since WAHA replays nothing to a websocket that reconnects. Already-seen messages
        come back too; the owner drops them by ``message_id``."""
        found = [
            message
            for chat in self.active_chats(since)
            for message in self.chat_messages(chat, limit=per_chat)
            if message.timestamp >= since
        ]
        return sorted(found, key=lambda m: m.timestamp)

    def qr(self, session: str | None = None) -> QrCode | None:
        """The QR to link a phone to ``session`` (default: this client's), as an image; None
        unless that session is SCAN_QR_CODE.

        ``GET /api/{session}/auth/qr?format=image`` answers the PNG itself, or
        ``{"mimetype", "data": base64}`` when asked for JSON (waha-docs, how-to/sessions,
        "Get QR"); JSON is asked for so the mimetype comes from WAHA.
        """
        response = self._request(
            "GET",
            f"/api/{_segment(session or self.session)}/auth/qr",
            what="the QR",
            params={"format": "image"},
            headers={"Accept": "application/json"},
            not_ready_is_none=True,
        )
        if response is None:
            return None
        if response.headers.get("content-type", "").startswith("image/"):
            return QrCode(image=response.content, mimetype=response.headers["content-type"])
        data = _json(response)
        if not isinstance(data, dict) or not isinstance(data.get("data"), str):
            raise TransportError("WAHA answered the QR without an image", retryable=True)
        try:
            image = base64.b64decode(data["data"], validate=True)
        except ValueError:
            raise TransportError("WAHA answered a QR that is not base64", retryable=True) from None
        return QrCode(image=image, mimetype=str(data.get("mimetype") or "image/png"))

    def qr_value(self, session: str | None = None) -> str | None:
        """The QR's raw text (``?format=raw`` answers ``{"value": …}``), for drawing it anew."""
        response = self._request(
            "GET",
            f"/api/{_segment(session or self.session)}/auth/qr",
            what="the QR",
            params={"format": "raw"},
            not_ready_is_none=True,
        )
        if response is None:
            return None
        data = _json(response)
        value = data.get("value") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None

    def download_media(self, source: str, *, max_bytes: int) -> Media:
        """A received file, by the path WAHA gave it (``/api/files/…``), from our WAHA URL with
        the key (the client sends it on every request)."""
        if not source.startswith(FILES_PREFIX):
            raise MediaUnavailable("not a WAHA file path", retryable=False)
        return download(
            self.client, f"{self.base_url}{source}", headers={}, max_bytes=max_bytes, gateway="WAHA"
        )

    def close(self) -> None:
        self.client.close()

    @overload
    def _request(
        self, method: str, path: str, *, what: str, not_ready_is_none: Literal[True], **kwargs: Any
    ) -> httpx.Response | None: ...

    @overload
    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        not_ready_is_none: Literal[False] = False,
        **kwargs: Any,
    ) -> httpx.Response: ...

    def _request(
        self, method: str, path: str, *, what: str, not_ready_is_none: bool = False, **kwargs: Any
    ) -> httpx.Response | None:
        try:
            response = self.client.request(method, f"{self.base_url}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"WAHA unreachable: {type(exc).__name__}", retryable=True
            ) from None
        status = response.status_code
        if status == 401:
            # The request is fine; the key is not. Keep it for when the key is fixed.
            raise TransportError("WAHA refused the API key (401)", retryable=True)
        if status == 422:
            if not_ready_is_none:
                return None
            # WAHA answers 422 while the session is not WORKING (scanning a QR, starting).
            raise TransportError(
                f"WAHA session not ready (422): {_detail(response)}", retryable=True
            )
        if status in (408, 429) or status >= 500:
            raise TransportError(f"WAHA error {status}: {_detail(response)}", retryable=True)
        if status >= 400:
            raise TransportError(
                f"WAHA rejected {what} ({status}): {_detail(response)}", retryable=False
            )
        return response


def _segment(value: str) -> str:
    """One URL path segment: chat ids hold "@", which WAHA's docs ask to send as %40."""
    return quote(value, safe="")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise TransportError(
            f"WAHA answered {response.status_code} with no JSON", retryable=True
        ) from None


def _detail(response: httpx.Response) -> str:
    return response.text[:200].replace("\n", " ")


def _message_id(response: httpx.Response) -> str | None:
    """WAHA returns the sent message; its id is a string or ``{"_serialized": ...}``."""
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("id")
    if isinstance(value, dict):
        value = value.get("_serialized") or value.get("id")
    return str(value) if value else None
