"""A faithful fake WAHA (WEBJS engine): its websocket and its HTTP API on one port of 127.0.0.1.

Every URL, body, status code and close code here follows WAHA itself; where each comes from:
- websocket (devlikeapro/waha src/core/api/websocket.gateway.core.ts, core/auth/WebSocketAuth.ts):
  ``/ws?x-api-key=…&session=…&events=…`` (``events`` repeated or comma-separated, ``*`` for all,
  ``session`` defaults to ``*``); a bad key gets the socket accepted, then closed with 1008
  "Unauthorized"; the server pings (WebsocketHeartbeatJob: every 60 s, terminating a client that
  did not answer the previous ping); it replays nothing to a client that reconnects;
- the event envelope (waha-docs content/docs/how-to/events): ``id`` "evt_" + lower-case ULID,
  ``timestamp`` in ms, ``event``, ``session``, ``metadata``, ``me``, ``payload``, ``engine``,
  ``environment``;
- messages (session.webjs.core.ts ``toWAMessage``): ``id`` "false_<chat>_<id>", ``timestamp`` in
  s, ``from``, ``fromMe``, ``to``, ``body``, ``hasMedia``, ``media``, ``ack``, ``ackName``,
  ``location``, ``vCards``, ``replyTo``, ``_data`` (whatsapp-web.js raw data, ``type`` "chat" for
  text);
- HTTP (src/api/*.controller.ts, core/abc/manager.abc.ts, core/auth/HeaderOrQueryApiKeyStrategy):
  key in ``X-Api-Key`` or ``?x-api-key``, else 401 ``{"message": "Unauthorized", "statusCode":
  401}``; NestJS answers POST with 201; a session not WORKING gets 422 ``{"error": "Session status
  is not as expected…", "session", "status", "expected"}``; the QR answers only in SCAN_QR_CODE,
  as PNG, as ``{"mimetype", "data"}`` with ``Accept: application/json``, or ``{"value"}`` with
  ``?format=raw`` (waha-docs how-to/sessions "Get QR").

Test API: ``push_message``/``push_ack``/``push_reaction``/``push_event`` (return the envelope),
``redeliver``, ``drop_socket``, ``set_status``, ``set_api_key``, ``ping``/``heartbeat``,
``delay_s`` (slow on demand), ``send_text_error``, ``push_voice`` (with the file served at
``/api/files/…``) and ``media_error``; records: ``calls``, ``sent_texts``, ``seen``,
``typing``, ``ws_attempts``, ``ws_refused``, ``ws_queries``, ``pongs``; ``wait_until(predicate)``
and the ``wait_*`` helpers block on a condition, never sleep.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.whatsapp._server_thread import ServerThread

API_KEY = "waha-test-key-0001"
ME = "51900000001"

# What NestJS's UnauthorizedException renders (HeaderOrQueryApiKeyStrategy fails the request).
UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}
NOT_AS_EXPECTED = "Session status is not as expected. Try again later or restart the session"
# whatsapp-web.js types that carry a downloadable file (hasMedia true).
MEDIA_TYPES = frozenset({"image", "video", "audio", "ptt", "document", "sticker"})
MIMETYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "ptt": "audio/ogg; codecs=opus",
    "document": "application/pdf",
    "sticker": "image/webp",
}
_ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


@dataclass(frozen=True)
class Call:
    """One HTTP request the fake answered."""

    method: str
    path: str
    key: str | None
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    request: web.Request
    session: str
    events: frozenset[str]
    alive: bool = True  # answered the last heartbeat ping

    def wants(self, event: str, session: str) -> bool:
        return (self.session in ("*", session)) and ("*" in self.events or event in self.events)


@dataclass
class _Session:
    status: str = "WORKING"
    statuses: list[dict[str, Any]] = field(default_factory=list)
    qr: str = ""
    chats: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def chat_of(phone_or_chat: str) -> str:
    return phone_or_chat if "@" in phone_or_chat else f"{phone_or_chat}@c.us"


def _ulid() -> str:
    return "".join(random.choice(_ULID_ALPHABET) for _ in range(26))


def _wid() -> str:
    # whatsapp-web.js message ids from WhatsApp Web look like "3EB0" + hex.
    return "3EB0" + uuid.uuid4().hex[:18].upper()


def png(seed: str, size: int = 21) -> bytes:
    """A real (tiny, black-and-white) PNG drawn from ``seed``: enough to be an image."""
    rng = random.Random(seed)
    rows = b"".join(
        b"\x00" + bytes(255 if rng.random() < 0.5 else 0 for _ in range(size)) for _ in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def message_payload(
    phone_or_chat: str,
    text: str = "",
    *,
    me: str = ME,
    from_me: bool = False,
    media_type: str | None = None,
    message_id: str | None = None,
    timestamp: int | None = None,
    media_url: str | None = None,
    mimetype: str | None = None,
) -> dict[str, Any]:
    """A message in WAHA's shape (WEBJS ``toWAMessage``), as the websocket and the chats API
    serve it; ``me`` is the session's own number. ``media_url``: where WAHA serves the file
    (None, as WAHA sends when it did not download it)."""
    chat = chat_of(phone_or_chat)
    me_chat = f"{me}@c.us"
    ts = int(time.time()) if timestamp is None else timestamp
    wid = _wid()
    mid = message_id or f"{'true' if from_me else 'false'}_{chat}_{wid}"
    kind = media_type or "chat"
    has_media = kind in MEDIA_TYPES
    sender, receiver = (me_chat, chat) if from_me else (chat, me_chat)
    data: dict[str, Any] = {
        "id": {"fromMe": from_me, "remote": chat, "id": wid, "_serialized": mid},
        "type": kind,
        "t": ts,
        "from": sender,
        "to": receiver,
        "notifyName": "" if from_me else "Productor",
    }
    location = None
    if kind == "chat":
        data["body"] = text
        body = text
    elif kind == "location":
        location = {"latitude": "-12.04", "longitude": "-77.03", "description": text or None}
        body = base64.b64encode(png(mid, 4)).decode()  # WEBJS: a thumbnail, not text
    else:
        data["caption"] = text or None
        data["mimetype"] = mimetype or MIMETYPES.get(kind, "application/octet-stream")
        body = text
    return {
        "id": mid,
        "timestamp": ts,
        "from": sender,
        "fromMe": from_me,
        "source": "app",
        "to": receiver,
        "body": body,
        "hasMedia": has_media,
        "media": (
            {"url": media_url, "mimetype": data["mimetype"], "filename": None, "error": None}
            if has_media
            else None
        ),
        "ack": 1,
        "ackName": "SERVER",
        "location": location,
        "vCards": [],
        "replyTo": None,
        "_data": data,
    }


class FakeWaha:
    def __init__(
        self, *, api_key: str = API_KEY, sessions: tuple[str, ...] = ("default",), me: str = ME
    ) -> None:
        self.api_key = api_key
        self.me = me
        self.delay_s = 0.0  # every HTTP answer waits this long ("slow on demand")
        # (status, body) for the next sendText calls while set, e.g. (500, {...}).
        self.send_text_error: tuple[int, Any] | None = None
        # The status every file download answers while set, e.g. 500.
        self.media_error: int | None = None
        # Serve files chunked, without Content-Length (a reader must count what it gets).
        self.chunked_files = False
        # Received media WAHA keeps: (session, file name) -> (bytes, Content-Type).
        self.files: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.calls: list[Call] = []
        self.pushed: list[tuple[dict[str, Any], int]] = []  # (envelope, sockets it reached)
        self.ws_attempts = 0
        self.ws_refused = 0
        self.ws_queries: list[list[tuple[str, str]]] = []  # each /ws request's query, in order
        self.pongs = 0
        self._cond = threading.Condition()
        self._stopping = asyncio.Event()
        self._sessions = {name: _Session(qr=f"2@{uuid.uuid4().hex}") for name in sessions}
        self._sockets: list[_Socket] = []
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_post("/api/sendText", self._send_text)
        app.router.add_post("/api/sendSeen", self._chat_action)
        app.router.add_post("/api/startTyping", self._chat_action)
        app.router.add_post("/api/stopTyping", self._chat_action)
        app.router.add_get("/api/sessions/{session}", self._session_info)
        app.router.add_get("/api/{session}/chats/overview", self._overview)
        app.router.add_get("/api/{session}/chats/{chat}/messages", self._messages)
        app.router.add_get("/api/{session}/auth/qr", self._qr)
        app.router.add_get("/api/files/{session}/{name}", self._file)
        self._server = ServerThread(app)
        self.url = f"http://127.0.0.1:{self._server.port}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeWaha:
        self._server.start()
        return self

    def stop(self) -> None:
        """Close the sockets as WAHA does on shutdown (1001), then the server; idempotent."""
        if not self._server.loop.is_closed() and self._server.started:
            self._server.loop.call_soon_threadsafe(self._stopping.set)
            self._server.call(self._close_all())
        self._server.stop()

    # -- what tests read -------------------------------------------------------------------

    def calls_to(self, path: str) -> list[Call]:
        with self._cond:
            return [call for call in self.calls if call.path == path]

    @property
    def sent_texts(self) -> list[dict[str, Any]]:
        """Bodies of the sendText calls WAHA accepted (201)."""
        return [c.body for c in self.calls_to("/api/sendText") if c.status == 201]

    def sent_ids(self, phone_or_chat: str, session: str = "default") -> list[str]:
        """The ids WAHA gave the messages sent to a chat, in order (what acks and reactions
        point at)."""
        with self._cond:
            chat = self._sessions[session].chats.get(chat_of(phone_or_chat), [])
            return [m["id"] for m in chat if m["fromMe"]]

    @property
    def seen(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls_to("/api/sendSeen") if c.status == 201]

    @property
    def typing(self) -> list[tuple[str, str]]:
        """("start" | "stop", chatId) in the order they came."""
        with self._cond:
            return [
                ("start" if c.path == "/api/startTyping" else "stop", c.body.get("chatId"))
                for c in self.calls
                if c.path in ("/api/startTyping", "/api/stopTyping") and c.status == 201
            ]

    @property
    def connected(self) -> int:
        """Sockets that passed the key check and are still open."""
        with self._cond:
            return len(self._sockets)

    def status(self, session: str = "default") -> str:
        with self._cond:
            return self._sessions[session].status

    def qr_value(self, session: str = "default") -> str:
        with self._cond:
            return self._sessions[session].qr

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
        """Block until ``predicate()`` holds (re-checked on every change the fake sees)."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout_s)

    def wait_connected(self, count: int = 1, timeout_s: float = 5.0) -> bool:
        return self.wait_until(lambda: len(self._sockets) >= count, timeout_s)

    def wait_ws_attempts(self, count: int, timeout_s: float = 5.0) -> bool:
        return self.wait_until(lambda: self.ws_attempts >= count, timeout_s)

    def wait_sent(self, count: int = 1, timeout_s: float = 5.0) -> bool:
        return self.wait_until(lambda: len(self._accepted("/api/sendText")) >= count, timeout_s)

    def wait_pongs(self, count: int = 1, timeout_s: float = 5.0) -> bool:
        return self.wait_until(lambda: self.pongs >= count, timeout_s)

    # -- what tests do ---------------------------------------------------------------------

    def set_api_key(self, key: str) -> None:
        with self._cond:
            self.api_key = key

    def message_payload(self, phone_or_chat: str, text: str = "", **kwargs: Any) -> dict[str, Any]:
        return message_payload(phone_or_chat, text, me=self.me, **kwargs)

    def push_message(
        self,
        phone_or_chat: str,
        text: str = "",
        *,
        session: str = "default",
        from_me: bool = False,
        media_type: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A producer writes: the message is stored in the chat (served by the chats API) and
        pushed as a ``message`` event to the sockets that subscribed; with none connected it is
        only stored, as WAHA keeps nothing for a websocket client that is away."""
        payload = self.message_payload(
            phone_or_chat,
            text,
            from_me=from_me,
            media_type=media_type,
            message_id=message_id,
            timestamp=timestamp,
        )
        self._store(session, chat_of(phone_or_chat), payload)
        # WAHA's ``message`` event covers incoming messages; fromMe ones typed on the phone come
        # through ``message.any`` in WAHA, and through here too when a test asks for them.
        return self.push_event("message", payload, session=session)

    def push_voice(
        self,
        phone_or_chat: str,
        audio: bytes,
        *,
        session: str = "default",
        media_type: str = "ptt",
        mimetype: str = "audio/ogg; codecs=opus",
    ) -> dict[str, Any]:
        """A producer sends a voice note: WAHA keeps the file (WAHA_DOWNLOAD_MEDIA) and serves
        it at ``/api/files/{session}/{message id}.oga`` to a client with the key; the event's
        ``media.url`` names it (with WAHA's own base URL)."""
        chat = chat_of(phone_or_chat)
        message_id = f"false_{chat}_{_wid()}"
        name = f"{message_id}.oga"
        with self._cond:
            self.files[(session, name)] = (audio, mimetype)
        payload = self.message_payload(
            chat,
            media_type=media_type,
            message_id=message_id,
            media_url=f"{self.url}/api/files/{session}/{name}",
            mimetype=mimetype,
        )
        self._store(session, chat, payload)
        return self.push_event("message", payload, session=session)

    def file_calls(self) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.path.startswith("/api/files/")]

    def push_ack(
        self, message_id: str, phone: str, *, ack: int = 3, session: str = "default"
    ) -> dict[str, Any]:
        names = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
        payload = {
            "id": message_id,
            "from": f"{self.me}@c.us",
            "to": chat_of(phone),
            "participant": None,
            "fromMe": True,
            "ack": ack,
            "ackName": names[ack],
            "timestamp": int(time.time()),
        }
        return self.push_event("message.ack", payload, session=session)

    def push_reaction(
        self, phone: str, target_message_id: str, emoji: str, *, session: str = "default"
    ) -> dict[str, Any]:
        chat = chat_of(phone)
        payload = {
            "id": f"false_{chat}_{_wid()}",
            "from": chat,
            "fromMe": False,
            "participant": chat,
            "to": chat,
            "timestamp": time.time(),
            "reaction": {"text": emoji, "messageId": target_message_id},
        }
        return self.push_event("message.reaction", payload, session=session)

    def push_event(
        self, event: str, payload: dict[str, Any], *, session: str = "default"
    ) -> dict[str, Any]:
        envelope = {
            "id": f"evt_{_ulid()}",
            "timestamp": int(time.time() * 1000),
            "event": event,
            "session": session,
            "metadata": {},
            "me": {"id": f"{self.me}@c.us", "pushName": "agrochat"},
            "payload": payload,
            "engine": "WEBJS",
            "environment": {"version": "2025.1.1", "engine": "WEBJS", "tier": "CORE"},
        }
        self._deliver(envelope)
        return envelope

    def redeliver(self, envelope: dict[str, Any]) -> int:
        """Send the very same event again (what a gateway that retries does)."""
        return self._deliver(envelope)

    def set_status(self, status: str, *, session: str = "default") -> dict[str, Any]:
        """Change the session's status and push ``session.status``; every SCAN_QR_CODE comes
        with a new QR (WAHA: "SCAN_QR_CODE is issued every time when QR updated")."""
        with self._cond:
            state = self._sessions[session]
            state.status = status
            state.statuses = [
                *state.statuses[-2:],
                {"status": status, "timestamp": int(time.time() * 1000)},
            ]
            if status == "SCAN_QR_CODE":
                state.qr = f"2@{uuid.uuid4().hex}"
            payload = {"status": status, "statuses": list(state.statuses), "data": None}
            self._cond.notify_all()
        return self.push_event("session.status", payload, session=session)

    def drop_socket(self) -> int:
        """Cut every websocket without a close frame (a network drop); the count cut."""
        return self._server.call(self._drop())

    def ping(self) -> int:
        """Ping every socket now; ``pongs`` counts the answers."""
        return self._server.call(self._ping_all())

    def heartbeat(self) -> int:
        """One round of WAHA's WebsocketHeartbeatJob: terminate the sockets that did not answer
        the previous ping, ping the others. The count terminated."""
        return self._server.call(self._heartbeat())

    # -- internals -------------------------------------------------------------------------

    def _accepted(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path and c.status == 201]

    def _store(self, session: str, chat: str, payload: dict[str, Any]) -> None:
        with self._cond:
            self._sessions[session].chats.setdefault(chat, []).append(payload)
            self._cond.notify_all()

    def _deliver(self, envelope: dict[str, Any]) -> int:
        reached = self._server.call(self._broadcast(envelope))
        with self._cond:
            self.pushed.append((envelope, reached))
            self._cond.notify_all()
        return reached

    async def _broadcast(self, envelope: dict[str, Any]) -> int:
        with self._cond:
            targets = [s for s in self._sockets if s.wants(envelope["event"], envelope["session"])]
        reached = 0
        for sock in targets:
            # WAHA sends to each client on its own: one socket going away (a process killed
            # during a takeover) does not keep the event from the others.
            try:
                await sock.ws.send_json(envelope)
            except (ConnectionError, RuntimeError):
                continue
            reached += 1
        return reached

    async def _close_all(self) -> None:
        with self._cond:
            targets = list(self._sockets)
        for sock in targets:
            # WAHA's beforeApplicationShutdown: client.close(1001, 'Server is shutting down').
            await sock.ws.close(code=1001, message=b"Server is shutting down")

    async def _drop(self) -> int:
        with self._cond:
            targets = list(self._sockets)
        for sock in targets:
            transport = sock.request.transport
            if transport is not None:
                transport.abort()
        return len(targets)

    async def _ping_all(self) -> int:
        with self._cond:
            targets = list(self._sockets)
        for sock in targets:
            await sock.ws.ping(b"waha")
        return len(targets)

    async def _heartbeat(self) -> int:
        with self._cond:
            targets = list(self._sockets)
        terminated = 0
        for sock in targets:
            if not sock.alive:
                transport = sock.request.transport
                if transport is not None:
                    transport.abort()
                terminated += 1
                continue
            sock.alive = False
            await sock.ws.ping(b"")
        return terminated

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        # autoping off: pongs are counted here, and the client's pings answered by hand.
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        key = next((v for k, v in request.query.items() if k.lower() == "x-api-key"), None)
        with self._cond:
            self.ws_attempts += 1
            self.ws_queries.append(list(request.query.items()))
            refused = bool(self.api_key) and key != self.api_key
            if refused:
                self.ws_refused += 1
            self._cond.notify_all()
        if refused:
            # WAHA: handleConnection -> socket.close(POLICY_VIOLATION, 'Unauthorized').
            await ws.close(code=1008, message=b"Unauthorized")
            return ws
        events = frozenset(
            name
            for value in request.query.getall("events", [])
            for name in value.split(",")
            if name
        )
        sock = _Socket(ws, request, request.query.get("session") or "*", events or frozenset({"*"}))
        with self._cond:
            self._sockets.append(sock)
            self._cond.notify_all()
        try:
            async for message in ws:
                if message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.PONG:
                    with self._cond:
                        sock.alive = True
                        self.pongs += 1
                        self._cond.notify_all()
        finally:
            with self._cond:
                self._sockets.remove(sock)
                self._cond.notify_all()
        return ws

    async def _answer(
        self, request: web.Request, status: int, data: Any, *, body: Any = None
    ) -> web.Response:
        key = request.headers.get("X-Api-Key") or request.query.get("x-api-key")
        with self._cond:
            self.calls.append(
                Call(request.method, request.path, key, dict(request.query), body, status)
            )
            self._cond.notify_all()
        if self.delay_s:
            # Slow, but not beyond the fake's own stop (a held answer would hold the teardown).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.delay_s)
        if isinstance(data, web.Response):
            return data
        if data is None:
            return web.Response(status=status)
        return web.json_response(data, status=status)

    async def _refuse(
        self, request: web.Request, name: str, expected: str | None, *, body: Any = None
    ) -> web.Response | None:
        """WAHA's checks, in its order: the key (401), the session (404), its status (422,
        when the route needs one: WORKING, or SCAN_QR_CODE for the QR); None when all pass."""
        if not self._authorized(request):
            return await self._answer(request, 401, UNAUTHORIZED, body=body)
        if (missing := self._unknown(name)) is not None:
            return await self._answer(request, 404, missing, body=body)
        if expected is not None and (not_ready := self._not_ready(name, expected)) is not None:
            return await self._answer(request, 422, not_ready, body=body)
        return None

    def _authorized(self, request: web.Request) -> bool:
        key = request.headers.get("X-Api-Key") or request.query.get("x-api-key")
        return not self.api_key or key == self.api_key

    def _not_ready(self, name: str, expected: str) -> dict[str, Any] | None:
        state = self._sessions.get(name)
        if state is None or state.status == expected:
            return None
        return {
            "error": NOT_AS_EXPECTED,
            "session": name,
            "status": state.status,
            "expected": [expected],
        }

    def _unknown(self, name: str) -> dict[str, Any] | None:
        if name in self._sessions:
            return None
        return {
            "message": f"We didn't find a session with name '{name}'.",
            "error": "Not Found",
            "statusCode": 404,
        }

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def _send_text(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        name = str(body.get("session", "default"))
        if (refused := await self._refuse(request, name, "WORKING", body=body)) is not None:
            return refused
        if self.send_text_error is not None:
            status, error = self.send_text_error
            return await self._answer(request, status, error, body=body)
        chat = str(body.get("chatId"))
        sent = self.message_payload(chat, str(body.get("text", "")), from_me=True)
        self._store(name, chat, sent)
        # WEBJS returns whatsapp-web.js's Message serialized: ``id`` is an object there.
        answer = {**sent["_data"], "ack": 0, "hasMedia": False, "body": sent["body"]}
        answer["timestamp"] = sent["timestamp"]
        answer["fromMe"] = True
        return await self._answer(request, 201, answer, body=body)

    async def _chat_action(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        name = str(body.get("session", "default"))
        if (refused := await self._refuse(request, name, "WORKING", body=body)) is not None:
            return refused
        # sendSeen returns nothing (201, empty body); typing returns {"result": true}.
        result = None if request.path == "/api/sendSeen" else {"result": True}
        return await self._answer(request, 201, result, body=body)

    async def _session_info(self, request: web.Request) -> web.Response:
        name = request.match_info["session"]
        if (refused := await self._refuse(request, name, None)) is not None:
            return refused
        with self._cond:
            status = self._sessions[name].status
        me = {"id": f"{self.me}@c.us", "pushName": "agrochat"} if status == "WORKING" else None
        info = {
            "name": name,
            "status": status,
            "config": None,
            "me": me,
            "engine": {"engine": "WEBJS"},
        }
        return await self._answer(request, 200, info)

    async def _overview(self, request: web.Request) -> web.Response:
        name = request.match_info["session"]
        if (refused := await self._refuse(request, name, "WORKING")) is not None:
            return refused
        limit = int(request.query.get("limit", "20"))
        offset = int(request.query.get("offset", "0"))
        with self._cond:
            chats = [
                {
                    "id": chat,
                    "name": None,
                    "picture": None,
                    # waha-docs: "lastMessage doesn't have media attachments".
                    "lastMessage": {k: v for k, v in history[-1].items() if k != "_data"},
                    "_chat": {"id": {"_serialized": chat}, "timestamp": history[-1]["timestamp"]},
                }
                for chat, history in self._sessions[name].chats.items()
                if history
            ]
        chats.sort(key=lambda c: c["lastMessage"]["timestamp"], reverse=True)
        return await self._answer(request, 200, chats[offset : offset + limit])

    async def _messages(self, request: web.Request) -> web.Response:
        name = request.match_info["session"]
        if (refused := await self._refuse(request, name, "WORKING")) is not None:
            return refused
        limit = int(request.query.get("limit", "100"))
        with self._cond:
            # WEBJS adds "@c.us" to a bare number (ensureSuffix).
            chat = chat_of(request.match_info["chat"])
            history = list(self._sessions[name].chats.get(chat, []))
        # whatsapp-web.js fetchMessages gives the last ``limit``; WAHA serves them newest first.
        newest_first = sorted(history, key=lambda m: m["timestamp"], reverse=True)[:limit]
        return await self._answer(request, 200, newest_first)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """WAHA serves received files statically under /api/files, behind the same key check
        as the API (no session status check: the file is on disk)."""
        if not self._authorized(request):
            return await self._answer(request, 401, UNAUTHORIZED)
        if self.media_error is not None:
            return await self._answer(request, self.media_error, {"error": "media error"})
        with self._cond:
            found = self.files.get((request.match_info["session"], request.match_info["name"]))
        if found is None:
            return await self._answer(request, 404, {"message": "Not Found", "statusCode": 404})
        content, mimetype = found
        if not self.chunked_files:
            response = web.Response(body=content, status=200, headers={"Content-Type": mimetype})
            return await self._answer(request, 200, response)
        await self._answer(request, 200, None)
        stream = web.StreamResponse(status=200, headers={"Content-Type": mimetype})
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        for start in range(0, len(content), 512):
            await stream.write(content[start : start + 512])
        await stream.write_eof()
        return stream

    async def _qr(self, request: web.Request) -> web.Response:
        name = request.match_info["session"]
        if (refused := await self._refuse(request, name, "SCAN_QR_CODE")) is not None:
            return refused
        with self._cond:
            raw = self._sessions[name].qr
        if request.query.get("format") == "raw":
            return await self._answer(request, 200, {"value": raw})
        image = png(raw)
        # BufferResponseInterceptor: JSON only for exactly "Accept: application/json".
        if request.headers.get("Accept") == "application/json":
            data = {"mimetype": "image/png", "data": base64.b64encode(image).decode()}
            return await self._answer(request, 200, data)
        return await self._answer(
            request, 200, web.Response(body=image, content_type="image/png", status=200)
        )


@contextmanager
def running_fake_waha(**kwargs: Any) -> Iterator[FakeWaha]:
    """A started FakeWaha, stopped afterwards (for test packages that want their own fixture)."""
    fake = FakeWaha(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
