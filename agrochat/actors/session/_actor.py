"""SessionActor: one producer's mailbox around a Conversation.

The mailbox is what makes a producer's messages strictly ordered (one at a time, in arrival
order) while other producers' sessions run on their own threads. Everything a session knows is
persisted as it goes, so stopping it (passivation) loses nothing; the directory starts a fresh
one on the producer's next message.

A message whose handling raises gets the producer a short apology, is logged and marked failed,
and is not retried; the Conversation is then rebuilt from the database, which is what
restarting a session means (its only state is a cache of persisted rows; messages accepted
and never answered are found again as ``received`` rows).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pykka
import structlog

from agrochat.actors.session._conversation import DIRECT_SOURCES, Conversation, Status
from agrochat.logs import get_logger
from agrochat.messages import (
    AdminReply,
    Incoming,
    Inspect,
    PushAlert,
    SessionDone,
    TakeOver,
    UpdateForm,
)
from agrochat.persistence import ProducerBusy, ProducerLocks
from agrochat.text import mask_phone

log = get_logger(__name__)

ConversationFactory = Callable[[str], Conversation]


def awaited(message: Any) -> bool:
    """Whether the message's sender waits for the answer (it came through ``SessionGateway``'s
    ask) rather than told it and went on: Pykka does not show a receiver which it was."""
    if isinstance(message, Incoming):
        return message.source in DIRECT_SOURCES
    return isinstance(message, UpdateForm | AdminReply | TakeOver)


class SessionActor(pykka.ThreadingActor):
    # A session holds no resource that needs an orderly exit beyond what on_stop does, and the
    # directory stops every session it started; daemon threads keep a hard exit from hanging.
    use_daemon_thread = True

    def __init__(
        self,
        phone: str,
        *,
        directory: pykka.ActorRef[Any] | None,
        conversation_factory: ConversationFactory,
        locks: ProducerLocks | None = None,
        turn_wait_s: float = 120.0,
    ) -> None:
        """``locks``: the producer's turn across processes (None: this mailbox is the only
        one); ``turn_wait_s``: how long a message nobody waits for may wait for it."""
        super().__init__()
        self.phone = phone
        self.directory = directory
        self.conversation_factory = conversation_factory
        self.locks = locks or ProducerLocks(None)
        self.turn_wait_s = turn_wait_s
        self.conversation = conversation_factory(phone)
        self.restarts = 0
        self._failed: str | None = None

    # -- messages ----------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        # This thread does not inherit the HTTP thread's context: bind the ids again.
        ids: dict[str, Any] = {"producer": mask_phone(self.phone)}
        request_id = getattr(message, "request_id", None)
        if request_id:
            ids["request_id"] = request_id
        if isinstance(message, Inspect):
            return self.snapshot()
        if not isinstance(message, Incoming | UpdateForm | PushAlert | AdminReply | TakeOver):
            log.warning("session ignored a message", message=type(message).__name__)
            return None
        with structlog.contextvars.bound_contextvars(**ids):
            self._failed = None
            try:
                with self.locks.hold(self.phone, timeout_s=self._wait_for(message)):
                    return self._handle(message)
            except ProducerBusy:
                if awaited(message):
                    raise  # the caller retries (503 with Retry-After); nothing was stored
                # A gateway's message stays stored as received and an alert stays claimed:
                # the holder answers it first in its next turn, or the sweep / the alert's
                # lease hands it over again.
                return None
            finally:
                self._done(failed=self._failed)

    def _wait_for(self, message: Any) -> float:
        """How long the message may wait for its producer's turn: its own deadline when it
        has one (the caller gives up then), else as long as a reply may take."""
        deadline = getattr(message, "deadline", None)
        if deadline is not None:
            return max(0.0, deadline - time.monotonic())
        return self.turn_wait_s

    def _handle(self, message: Any) -> Any:
        if isinstance(message, Incoming):
            return self._incoming(message)
        if isinstance(message, UpdateForm):
            return self.conversation.update_form(
                message.values, source=message.source, author=message.author
            )
        if isinstance(message, PushAlert):
            return self._push_alert(message)
        if isinstance(message, AdminReply):
            # An admin's action is asked for: an error goes back to the panel, the session lives.
            return self.conversation.admin_reply(message.text, author=message.author)
        return self.conversation.take_over(author=message.author, to_assistant=message.to_assistant)

    def _incoming(self, message: Incoming) -> Any:
        try:
            outcome = self.conversation.handle(message)
            if outcome.status is Status.FAILED:
                self._failed = outcome.error
        except Exception as exc:
            log.exception("session failed on a message; answering with an apology")
            outcome = self.conversation.fail(message, exc)
            self._failed = outcome.error
            self._restart_conversation()
        return outcome.reply

    def _push_alert(self, message: PushAlert) -> None:
        try:
            self.conversation.push_alert(message.alert_id, message.text)
        except Exception as exc:
            # The alert stays claimed in the database; the scheduler retries it when its lease
            # runs out. Dying here would lose this producer's queued messages for nothing.
            self._failed = f"{type(exc).__name__}: {exc}"
            log.exception("session could not deliver an alert", alert_id=message.alert_id)

    # -- lifecycle ---------------------------------------------------------------------------

    def _restart_conversation(self) -> None:
        self.restarts += 1
        try:
            self.conversation = self.conversation_factory(self.phone)
        except Exception:
            log.exception("session could not rebuild its conversation")

    def _done(self, *, failed: str | None = None, crashed: bool = False) -> None:
        if self.directory is None:
            return
        # ActorDeadError: the directory is being restarted; it forgets its sessions anyway.
        with contextlib.suppress(pykka.ActorDeadError):
            self.directory.tell(
                SessionDone(
                    phone=self.phone,
                    urn=self.actor_urn,
                    failed=failed,
                    crashed=crashed,
                )
            )

    def on_failure(self, *args: object) -> None:
        self._done(failed="session actor crashed", crashed=True)

    def snapshot(self) -> dict[str, Any]:
        return {**self.conversation.snapshot(), "restarts": self.restarts}
