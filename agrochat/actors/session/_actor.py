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
from collections.abc import Callable
from typing import Any

import pykka
import structlog

from agrochat.actors.session._conversation import Conversation, Status
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
from agrochat.text import mask_phone

log = get_logger(__name__)

ConversationFactory = Callable[[str], Conversation]


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
    ) -> None:
        super().__init__()
        self.phone = phone
        self.directory = directory
        self.conversation_factory = conversation_factory
        self.conversation = conversation_factory(phone)
        self.restarts = 0

    # -- messages ----------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        # This thread does not inherit the HTTP thread's context: bind the ids again.
        ids: dict[str, Any] = {"producer": mask_phone(self.phone)}
        request_id = getattr(message, "request_id", None)
        if request_id:
            ids["request_id"] = request_id
        if isinstance(message, Inspect):
            return self.snapshot()
        with structlog.contextvars.bound_contextvars(**ids):
            if isinstance(message, Incoming):
                return self._incoming(message)
            if isinstance(message, UpdateForm):
                return self._update_form(message)
            if isinstance(message, PushAlert):
                return self._push_alert(message)
            if isinstance(message, AdminReply):
                return self._admin(
                    lambda: self.conversation.admin_reply(message.text, author=message.author)
                )
            if isinstance(message, TakeOver):
                return self._admin(
                    lambda: self.conversation.take_over(
                        author=message.author, to_assistant=message.to_assistant
                    )
                )
        log.warning("session ignored a message", message=type(message).__name__)
        return None

    def _incoming(self, message: Incoming) -> Any:
        failed: str | None = None
        try:
            outcome = self.conversation.handle(message)
            if outcome.status is Status.FAILED:
                failed = outcome.error
        except Exception as exc:
            log.exception("session failed on a message; answering with an apology")
            outcome = self.conversation.fail(message, exc)
            failed = outcome.error
            self._restart_conversation()
        finally:
            self._done(failed=failed)
        return outcome.reply

    def _update_form(self, message: UpdateForm) -> dict[str, Any]:
        try:
            return self.conversation.update_form(
                message.values, source=message.source, author=message.author
            )
        finally:
            self._done()

    def _admin(self, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        # An admin's action is asked for: an error goes back to the panel, the session lives.
        try:
            return action()
        finally:
            self._done()

    def _push_alert(self, message: PushAlert) -> None:
        failed: str | None = None
        try:
            self.conversation.push_alert(message.alert_id, message.text)
        except Exception as exc:
            # The alert stays claimed in the database; the scheduler retries it when its lease
            # runs out. Dying here would lose this producer's queued messages for nothing.
            failed = f"{type(exc).__name__}: {exc}"
            log.exception("session could not deliver an alert", alert_id=message.alert_id)
        finally:
            self._done(failed=failed)

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
