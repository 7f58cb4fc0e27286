"""A fake Graph API (the Cloud API's messages endpoint) on 127.0.0.1, and signed webhook bodies.

Shapes from Meta's developer documentation (see agrochat/actors/whatsapp/_cloud.py): sends are
``POST /{version}/{phone-number-id}/messages`` with a bearer token, answered ``{"messaging_product":
"whatsapp", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid.…"}]}``; errors are
``{"error": {"message", "type", "code", "error_data": {"messaging_product", "details"},
"fbtrace_id"}}``. Webhook bodies follow the messages webhook reference, signed the way Meta signs
them (``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>``).

Test API: ``sends`` (accepted bodies), ``requests`` (everything, with the Authorization header),
``fail_next(code, message, …)`` (scripted errors, in order), ``delay_s``; ``wait_sends(n)``;
media: ``add_media`` (served at ``GET /{version}/{media-id}`` -> URL -> bytes, both with the
bearer token), ``media_error``, ``media_requests()``.
Builders: ``text_webhook``, ``media_webhook``, ``audio_webhook``, ``reaction_webhook``,
``status_webhook``, ``signed_webhook``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.whatsapp._server_thread import ServerThread

TOKEN = "EAAG-test-token-0001"
PHONE_NUMBER_ID = "106540352242922"
API_VERSION = "v25.0"
WABA_ID = "102290129340398"


def wamid() -> str:
    return "wamid.HBgL" + uuid.uuid4().hex.upper()


@dataclass(frozen=True)
class GraphRequest:
    path: str
    authorization: str | None
    body: Any
    status: int
    kind: str = "message"  # or "media": a media URL lookup or download


@dataclass(frozen=True)
class ScriptedError:
    status: int
    code: int
    message: str
    details: str | None = None
    error_type: str = "OAuthException"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
            "fbtrace_id": "A" + uuid.uuid4().hex[:10],
        }
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        return {"error": error}


class FakeGraph:
    def __init__(self, *, token: str = TOKEN) -> None:
        self.token = token
        self.delay_s = 0.0
        self.requests: list[GraphRequest] = []
        self._errors: list[ScriptedError] = []
        self._cond = threading.Condition()
        # Uploaded media by id: (bytes, mime_type); ``media_error``: the status every media
        # download answers while set.
        self.media: dict[str, tuple[bytes, str]] = {}
        self.media_error: int | None = None
        app = web.Application()
        app.router.add_post("/{version}/{number}/messages", self._messages)
        # Before "/{version}/{media_id}", which would match it too.
        app.router.add_get("/whatsapp_business/attachments/", self._attachment)
        app.router.add_get("/{version}/{media_id}", self._media_url)
        self._server = ServerThread(app)
        self.url = f"http://127.0.0.1:{self._server.port}"

    def start(self) -> FakeGraph:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def sends(self) -> list[dict[str, Any]]:
        with self._cond:
            return [r.body for r in self.requests if r.status == 200 and r.kind == "message"]

    def wait_sends(self, count: int, timeout_s: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: (
                    sum(r.status == 200 and r.kind == "message" for r in self.requests) >= count
                ),
                timeout_s,
            )

    def fail_next(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        details: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` sends with this Graph error (queued after earlier ones)."""
        with self._cond:
            self._errors.extend([ScriptedError(status, code, message, details)] * times)

    def add_media(self, content: bytes, mime_type: str = "audio/ogg") -> str:
        """A producer's upload, as Meta keeps it; its media id."""
        media_id = str(uuid.uuid4().int)[:16]
        with self._cond:
            self.media[media_id] = (content, mime_type)
        return media_id

    def media_requests(self) -> list[GraphRequest]:
        with self._cond:
            return [r for r in self.requests if r.kind == "media"]

    async def _media_url(self, request: web.Request) -> web.Response:
        """``GET /{version}/{media-id}``: the file's short-lived URL, type, hash and size
        (Meta's "Retrieve Media URL"), for the bearer token only."""
        media_id = request.match_info["media_id"]
        status, answer = self._media_answer(request, media_id)
        if status == 200:
            content, mime_type = self.media[media_id]
            answer = {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/whatsapp_business/attachments/?mid={media_id}&ext=1&hash=x",
                "mime_type": mime_type,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": media_id,
            }
        return self._record_media(request, status, answer)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        """The download itself: the bytes, with the same bearer token ("Download Media")."""
        media_id = request.query.get("mid", "")
        status, answer = self._media_answer(request, media_id)
        if status != 200:
            return self._record_media(request, status, answer)
        content, mime_type = self.media[media_id]
        self._record_media(request, 200, {})
        return web.Response(body=content, headers={"Content-Type": mime_type})

    def _media_answer(self, request: web.Request, media_id: str) -> tuple[int, dict[str, Any]]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, ScriptedError(401, 190, "Invalid OAuth access token").body()
        if self.media_error is not None:
            status = self.media_error
            code, message = (131016, "Service unavailable") if status >= 500 else (100, "Invalid")
            return status, ScriptedError(status, code, message).body()
        if media_id not in self.media:
            return 404, ScriptedError(404, 100, "Invalid parameter", "no such media").body()
        return 200, {}

    def _record_media(self, request: web.Request, status: int, answer: Any) -> web.Response:
        with self._cond:
            self.requests.append(
                GraphRequest(
                    request.path, request.headers.get("Authorization"), None, status, "media"
                )
            )
            self._cond.notify_all()
        return web.json_response(answer, status=status)

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        status, answer = self._answer(request, body)
        with self._cond:
            self.requests.append(
                GraphRequest(request.path, request.headers.get("Authorization"), body, status)
            )
            self._cond.notify_all()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.json_response(answer, status=status)

    def _answer(self, request: web.Request, body: Any) -> tuple[int, dict[str, Any]]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            error = ScriptedError(
                401, 190, "Invalid OAuth access token - Cannot parse access token"
            )
            return 401, error.body()
        with self._cond:
            scripted = self._errors.pop(0) if self._errors else None
        if scripted is not None:
            return scripted.status, scripted.body()
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return 400, ScriptedError(400, 100, "Invalid parameter").body()
        kind = body.get("type")
        text = body.get("text") if isinstance(body.get("text"), dict) else {}
        if kind == "text" and len(str(text.get("body", ""))) > 4096:
            error = ScriptedError(400, 100, "Invalid parameter", "text.body too long")
            return 400, error.body()
        if kind == "template" and not isinstance(body.get("template"), dict):
            return 400, ScriptedError(400, 100, "Invalid parameter").body()
        message: dict[str, Any] = {"id": wamid()}
        if kind == "template":
            message["message_status"] = "accepted"
        to = str(body.get("to"))
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [message],
        }


@contextmanager
def running_fake_graph(**kwargs: Any) -> Iterator[FakeGraph]:
    fake = FakeGraph(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()


# -- webhook bodies --------------------------------------------------------------------------


def webhook(value: dict[str, Any], *, phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    """A messages webhook around one ``value`` (metadata filled in)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "51900000002",
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def _inbound(phone: str, kind: str, content: dict[str, Any], **options: Any) -> dict[str, Any]:
    message = {
        "from": phone,
        "id": options.get("message_id") or wamid(),
        "timestamp": str(options.get("timestamp") or int(time.time())),
        "type": kind,
        kind: content,
    }
    return webhook(
        {
            "contacts": [{"profile": {"name": "Productor"}, "wa_id": phone}],
            "messages": [message],
        },
        phone_number_id=options.get("phone_number_id", PHONE_NUMBER_ID),
    )


def text_webhook(phone: str, text: str, **options: Any) -> dict[str, Any]:
    return _inbound(phone, "text", {"body": text}, **options)


def media_webhook(
    phone: str, kind: str, caption: str | None = None, **options: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {"id": "1234567890", "mime_type": "image/jpeg", "sha256": "abc"}
    if kind == "location":
        content = {"latitude": -12.04, "longitude": -77.03}
    elif caption is not None:
        content["caption"] = caption
    return _inbound(phone, kind, content, **options)


def audio_webhook(phone: str, media_id: str, **options: Any) -> dict[str, Any]:
    """A voice note (the Cloud API's ``audio`` with ``voice`` true)."""
    content = {"id": media_id, "mime_type": "audio/ogg; codecs=opus", "voice": True}
    return _inbound(phone, "audio", content, **options)


def reaction_webhook(phone: str, target: str, emoji: str | None, **options: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"message_id": target}
    if emoji is not None:  # Meta leaves ``emoji`` out when the reaction is removed
        content["emoji"] = emoji
    return _inbound(phone, "reaction", content, **options)


def status_webhook(
    message_id: str,
    status: str,
    phone: str,
    *,
    error: tuple[int, str, str] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": phone,
    }
    if error is not None:
        code, title, details = error
        entry["errors"] = [
            {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    return webhook({"statuses": [entry]}, phone_number_id=phone_number_id)


@dataclass(frozen=True)
class SignedWebhook:
    body: bytes
    headers: dict[str, str]


def signed_webhook(payload: dict[str, Any] | bytes, app_secret: str) -> SignedWebhook:
    """The raw body and headers of a webhook POST as Meta sends it, signed with ``app_secret``."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    digest = hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    return SignedWebhook(
        body=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"},
    )
