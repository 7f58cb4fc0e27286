"""Gateway transports: how one outbox message reaches WhatsApp.

A transport sends one text and returns the gateway's message id, or raises ``TransportError``
saying whether trying again later may work. It never retries by itself: the outbox does, with
backoff, so a retry survives a restart.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from typing import Any, Protocol, TextIO

import httpx

from agrochat.config import Config
from agrochat.errors import ConfigError
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


class WahaClient:
    """WAHA's HTTP API (``POST /api/sendText`` with ``X-Api-Key``).

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
        try:
            response = self.client.post(f"{self.base_url}/api/sendText", json=body)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"WAHA unreachable: {type(exc).__name__}", retryable=True
            ) from None
        status = response.status_code
        if status == 401:
            # The message is fine; the key is not. Keep it for when the key is fixed.
            raise TransportError("WAHA refused the API key (401)", retryable=True)
        if status == 422:
            # WAHA answers 422 while the session is not WORKING (scanning a QR, starting).
            raise TransportError(
                f"WAHA session not ready (422): {_detail(response)}", retryable=True
            )
        if status in (408, 429) or status >= 500:
            raise TransportError(f"WAHA error {status}: {_detail(response)}", retryable=True)
        if status >= 400:
            raise TransportError(
                f"WAHA rejected the message ({status}): {_detail(response)}", retryable=False
            )
        return _message_id(response)

    def close(self) -> None:
        self.client.close()


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


def make_transport(config: Config, *, stream: TextIO | None = None) -> Transport | None:
    """The transport ``AGROCHAT_WHATSAPP`` names; None for ``none`` (no WhatsApp actor)."""
    if config.whatsapp == "none":
        return None
    if config.whatsapp == "console":
        return ConsoleTransport(stream)
    if config.whatsapp == "waha":
        return WahaClient(config.waha_url, api_key=config.waha_api_key, session=config.waha_session)
    raise ConfigError(f"AGROCHAT_WHATSAPP={config.whatsapp}: sending is not implemented yet")
