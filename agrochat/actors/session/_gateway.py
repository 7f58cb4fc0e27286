"""SessionGateway: how a thread that is not an actor (an HTTP worker, the terminal) talks to a
producer's session and waits for the answer.

The directory returns the session's future at once (it never waits on a session itself), and
this thread waits on that future. Asks flow down only: HTTP -> directory -> session -> inference.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pykka

from agrochat import wording
from agrochat.actors._common import ActorId, Peers
from agrochat.errors import NotFound, NotReady
from agrochat.logs import get_logger
from agrochat.messages import AdminReply, Incoming, Reply, TakeOver, UpdateForm
from agrochat.model_output import canned_output
from agrochat.phones import chat_id, normalize_phone

log = get_logger(__name__)

# How long the directory itself may take to hand a message on (it does no I/O for that).
ROUTE_TIMEOUT_S = 10.0
# Past the reply's deadline, how long to wait for the session to answer with its own apology
# (it checks the deadline before calling the model and the model stops at it).
GRACE_S = 5.0

Routed = Incoming | UpdateForm | AdminReply | TakeOver


class SessionGateway:
    def __init__(
        self,
        peers: Peers,
        *,
        reply_timeout_s: float = 120.0,
    ) -> None:
        self.peers = peers
        self.reply_timeout_s = reply_timeout_s

    def _route(self, message: Routed) -> pykka.Future[Any]:
        try:
            # Looked up on every call: after a restart the directory is a new actor.
            ref = self.peers.ref(ActorId.SESSIONS)
            future = ref.ask(message, block=False).get(timeout=ROUTE_TIMEOUT_S)
        except NotFound as exc:
            raise NotReady("conversations are not running") from exc
        except (pykka.ActorDeadError, pykka.Timeout) as exc:
            raise NotReady("conversations are restarting; try again shortly") from exc
        if future is None:
            raise NotReady("conversations could not take the message")
        return future

    def _ask(self, message: Routed, timeout_s: float) -> Any:
        # One retry: a session that crashed (or was replaced) between routing and handling
        # leaves its queued asks with ActorDeadError; the directory then starts a new one.
        for attempt in (1, 2):
            future = self._route(message)
            try:
                return future.get(timeout=timeout_s)
            except pykka.ActorDeadError:
                if attempt == 2:
                    raise NotReady("the producer's session is restarting; try again") from None
                log.warning("session died before answering; routing again")
        raise AssertionError("unreachable")

    def converse(
        self,
        phone: str,
        text: str,
        *,
        role: str | None = None,
        message_id: str | None = None,
        source: str = "api",
        request_id: str | None = None,
    ) -> Reply:
        """One producer message in, the seed's model_output back (an apology on a timeout)."""
        canonical = normalize_phone(phone)
        now = time.monotonic()
        incoming = Incoming(
            phone=canonical,
            text=text,
            received_at=time.time(),
            deadline=now + self.reply_timeout_s,
            source=source,
            message_id=message_id,
            role=role,
            request_id=request_id or uuid.uuid4().hex,
        )
        try:
            reply: Reply = self._ask(incoming, self.reply_timeout_s + GRACE_S)
        except pykka.Timeout:
            # The session is still busy (earlier messages of this producer, a slow model). The
            # message is stored and will be answered or marked failed by the session itself.
            log.warning("reply timed out", request_id=incoming.request_id)
            output = canned_output(role, wording.TIMEOUT)
            return Reply(phone=chat_id(canonical), model_output=output, message_id=message_id)
        return reply

    def update_form(
        self,
        phone: str,
        values: dict[str, str],
        *,
        source: str = "api",
        author: str | None = None,
    ) -> dict[str, Any]:
        """Store validated form values through the producer's session (in order with its
        conversation); returns the form's state. ``author``: the admin, audited with it."""
        message = UpdateForm(
            phone=normalize_phone(phone), values=dict(values), source=source, author=author
        )
        try:
            result: dict[str, Any] = self._ask(message, self.reply_timeout_s)
        except pykka.Timeout:
            raise NotReady("the producer's session is busy; try again shortly") from None
        return result

    def admin_reply(self, phone: str, text: str, *, author: str) -> dict[str, Any]:
        """An admin's message to a producer, stored and queued for sending in order with the
        conversation; the conversation is then the admin's."""
        message = AdminReply(phone=normalize_phone(phone), text=text, author=author)
        return self._admin(message)

    def take_over(self, phone: str, *, author: str, to_assistant: bool = False) -> dict[str, Any]:
        message = TakeOver(phone=normalize_phone(phone), author=author, to_assistant=to_assistant)
        return self._admin(message)

    def _admin(self, message: AdminReply | TakeOver) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self._ask(message, self.reply_timeout_s)
        except pykka.Timeout:
            raise NotReady("the producer's session is busy; try again shortly") from None
        return result

    def deliver(self, incoming: Incoming) -> None:
        """Hand a gateway's message (already stored) to its session; nobody waits for the reply,
        which goes out through the outbox."""
        try:
            self.peers.ref(ActorId.SESSIONS).tell(incoming)
        except (NotFound, NotReady, pykka.ActorDeadError) as exc:
            # Stored as received: the WhatsApp actor's sweep hands it over again later.
            raise NotReady("conversations are not running") from exc
