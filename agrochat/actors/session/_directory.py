"""SessionDirectory: routes each producer's messages to that producer's SessionActor.

It starts a session on a producer's first message, passivates it (stops it; everything is
already persisted) after ``AGROCHAT_SESSION_IDLE_S`` without messages, or earlier when more than
``AGROCHAT_SESSION_MAX`` sessions are alive, and starts a fresh one when a session died.

``AGROCHAT_SESSION_MAX`` is a hard cap on live sessions (each is a thread). When every live
session is busy, a message for a producer without one cannot start a session:

- a message somebody waits for (``/agent``, ``/form/update``, the panel: asked through the
  ``SessionGateway``) is refused with ``Overloaded`` (503 with Retry-After). Its caller is there
  to retry, and nothing of it was stored, so nothing is lost or half-answered;
- a message nobody waits for (a gateway's message, already stored as ``received``; an alert,
  already claimed) is queued here, in arrival order per producer, and handed to a session as
  soon as one is free. Its sender cannot retry soon (the WhatsApp sweep hands a stored message
  over again only after twice the reply timeout, an alert's lease runs for minutes), and the
  queue costs no thread.

Pykka deadlock rule: the directory never waits for a session. ``route`` hands the message to
the session with a non-blocking ask and returns the session's future; the caller (an HTTP
thread, the terminal) waits on that. So the directory is busy for microseconds per message and
different producers' sessions run at the same time, while one producer's messages queue in one
mailbox, in order.

A session is only passivated when it has nothing in flight: the directory counts messages it
routed and the session tells ``SessionDone`` after each one. Otherwise a stop could race a
message queued behind it and a second session for the same producer could start while the
first is still writing.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from agrochat.actors._common import Peers, Ticker
from agrochat.actors.session._actor import ConversationFactory, SessionActor, awaited
from agrochat.actors.session._stats import SessionStats
from agrochat.config import Config
from agrochat.errors import Overloaded
from agrochat.logs import get_logger
from agrochat.messages import (
    AdminReply,
    Incoming,
    Inspect,
    PushAlert,
    SessionDone,
    TakeOver,
    Tick,
    UpdateForm,
)
from agrochat.persistence import ProducerLocks
from agrochat.phones import normalize_phone
from agrochat.supervisor import Supervised
from agrochat.text import mask_phone

log = get_logger(__name__)

# How many recent failures the directory keeps for /debug/actors.
FAILURES_KEPT = 20


@dataclass
class _Session:
    ref: pykka.ActorRef[Any]
    in_flight: int = 0
    last_used: float = 0.0


class SessionDirectory(Supervised, pykka.ThreadingActor):
    def __init__(
        self,
        config: Config,
        *,
        peers: Peers,
        conversation_factory: ConversationFactory,
        clock: Callable[[], float] = time.monotonic,
        tick_interval_s: float | None = -1.0,
        stats: SessionStats | None = None,
        locks: ProducerLocks | None = None,
    ) -> None:
        """``tick_interval_s``: -1 picks one from the idle time; None starts no ticker (tests
        tell ``Tick`` themselves, with ``clock`` under their control). ``stats``: where the
        live count is published for /metrics (it outlives a restarted directory). ``locks``:
        each producer's turn across processes (None: one process, the mailboxes suffice)."""
        super().__init__()
        self.config = config
        self.peers = peers
        self.clock = clock
        self.idle_s = config.session_idle_s
        self.max_sessions = config.session_max
        if tick_interval_s is not None and tick_interval_s < 0:
            tick_interval_s = min(5.0, max(0.05, self.idle_s / 4))
        self.tick_interval_s = tick_interval_s
        self.conversation_factory = conversation_factory
        self.locks = locks
        self.sessions: dict[str, _Session] = {}
        # Told messages waiting for a free session, per producer, producers in arrival order;
        # a producer here has no live session (its messages go to it together, in order).
        self.waiting: dict[str, list[Any]] = {}
        self.stats = stats or SessionStats()
        self.stats.max_sessions.set(self.max_sessions)
        self._ticker: Ticker | None = None
        self.started = 0
        self.passivated = 0
        self.restarted = 0
        self.routed = 0
        self.failed = 0
        self.refused = 0
        self.queued = 0
        self.peak_sessions = 0
        self.failures: collections.deque[dict[str, Any]] = collections.deque(maxlen=FAILURES_KEPT)

    # -- lifecycle ---------------------------------------------------------------------------

    def on_start(self) -> None:
        if self.tick_interval_s is not None:
            self._ticker = Ticker(
                self.actor_ref,
                self.tick_interval_s,
                message=lambda at: Tick(at=at),
                name="session-ticker",
            )
            self._ticker.start()

    def on_stop(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        # Each session finishes the messages already in its mailbox, then stops.
        futures = [s.ref.stop(block=False) for s in self.sessions.values()]
        for future in futures:
            with contextlib.suppress(pykka.Timeout, pykka.ActorDeadError):
                future.get(timeout=self.config.reply_timeout_s)
        self.sessions.clear()
        if self.waiting:
            # Stored rows (received messages, claimed alerts): the WhatsApp sweep and the
            # alerts' leases hand them over again after a restart.
            log.warning(
                "stopped with messages waiting for a session",
                waiting=sum(len(m) for m in self.waiting.values()),
            )
            self.waiting.clear()
        self._publish()

    def on_failure(self, *args: object) -> None:
        self.on_stop()

    # -- routing -----------------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return self.snapshot()
        if isinstance(message, SessionDone):
            self._session_done(message)
        elif isinstance(message, Tick):
            self._tick()
        elif isinstance(message, Incoming | UpdateForm | PushAlert | AdminReply | TakeOver):
            # Asked (an HTTP thread waits on the returned future) or told (a gateway, the
            # alert scheduler: the reply goes out through the outbox, nobody waits here).
            try:
                phone = normalize_phone(message.phone)
            except ValueError as exc:
                log.warning("message for an invalid phone dropped", error=str(exc))
                return None
            try:
                return self._dispatch(phone, message)
            except Overloaded:
                # Only ever raised for an asked message. Handed back as the session's answer
                # would be, in a future: raised from here, Pykka would log a traceback for each.
                refused: pykka.Future[Any] = pykka.ThreadingFuture()
                refused.set_exception()
                return refused
            except Exception:
                # A told message must not kill the directory (and every session with it); an
                # asking caller gets None and answers "not ready".
                log.exception("could not hand a message to its session")
                return None
        else:
            log.warning("session directory ignored a message", message=type(message).__name__)
        return None

    def _dispatch(self, phone: str, message: Any) -> pykka.Future[Any] | None:
        self._hand_over_waiting()
        if phone in self.waiting or (phone not in self.sessions and not self._make_room()):
            # Every live session is busy (or others queued first): no new session now.
            if awaited(message):
                self.refused += 1
                self.stats.refused.inc()
                # info: under a flood each refusal is a line; /metrics counts them.
                log.info(
                    "message refused: every session is busy",
                    producer=mask_phone(phone),
                    live=len(self.sessions),
                )
                raise Overloaded(
                    f"all {self.max_sessions} conversations (AGROCHAT_SESSION_MAX) are busy "
                    "answering; nothing was stored, retry shortly"
                )
            self.waiting.setdefault(phone, []).append(message)
            self.queued += 1
            self._publish()
            return None
        return self._ask_session(phone, message)

    def _ask_session(self, phone: str, message: Any) -> pykka.Future[Any]:
        for attempt in (1, 2):
            session = self._session_for(phone)
            try:
                # Always an ask, even for told messages: in an ask an exception goes back to
                # the (possibly absent) caller and the session lives on; a tell would kill it.
                future = session.ref.ask(message, block=False)
            except pykka.ActorDeadError:
                # Died between the liveness check and now: start another one, once.
                self.sessions.pop(phone, None)
                self.restarted += 1
                if attempt == 2:
                    raise
                continue
            session.in_flight += 1
            session.last_used = self.clock()
            self.routed += 1
            return future
        raise AssertionError("unreachable")

    def _make_room(self) -> bool:
        """Whether a new session may start: below the cap, after putting idle ones to sleep."""
        self._forget_dead()
        if len(self.sessions) >= self.max_sessions:
            self._passivate_lru(len(self.sessions) - self.max_sessions + 1)
        return len(self.sessions) < self.max_sessions

    def _hand_over_waiting(self) -> None:
        """Start sessions for queued producers, first come first served, while there is room."""
        while self.waiting:
            phone = next(iter(self.waiting))
            if not self._make_room():
                return
            for message in self.waiting.pop(phone):
                try:
                    self._ask_session(phone, message)
                except Exception:
                    # As for a told message routed directly: logged, stored, swept later.
                    log.exception("could not hand a queued message to its session")
            self._publish()

    def _session_for(self, phone: str) -> _Session:
        session = self.sessions.get(phone)
        if session is not None and not session.ref.is_alive():
            # Died without telling (an exception in its own start): forget it, start anew.
            del self.sessions[phone]
            self.restarted += 1
            session = None
        if session is None:
            ref = SessionActor.start(
                phone,
                directory=self.actor_ref,
                conversation_factory=self.conversation_factory,
                locks=self.locks,
                turn_wait_s=self.config.reply_timeout_s,
            )
            session = _Session(ref=ref, last_used=self.clock())
            self.sessions[phone] = session
            self.started += 1
            self.peak_sessions = max(self.peak_sessions, len(self.sessions))
            self._publish()
        return session

    def _session_done(self, done: SessionDone) -> None:
        if done.failed is not None:
            self.failed += 1
            self.failures.append(
                {"at": time.time(), "producer": mask_phone(done.phone), "error": done.failed}
            )
        session = self.sessions.get(done.phone)
        if session is None or session.ref.actor_urn != done.urn:
            return  # from a session already replaced
        if done.crashed:
            del self.sessions[done.phone]
            self.restarted += 1
            log.error(
                "session actor crashed; the next message starts a new one",
                producer=mask_phone(done.phone),
            )
        else:
            session.in_flight = max(0, session.in_flight - 1)
            session.last_used = self.clock()
        # A session may have become free: queued producers go first.
        self._hand_over_waiting()
        self._publish()

    # -- passivation -------------------------------------------------------------------------

    def _tick(self) -> None:
        if self._ticker is not None:
            self._ticker.handled()
        now = self.clock()
        self._forget_dead()
        for phone, session in list(self.sessions.items()):
            if session.in_flight:
                continue
            if now - session.last_used >= self.idle_s:
                self._passivate(phone)
        self._hand_over_waiting()
        self._publish()

    def _forget_dead(self) -> None:
        for phone, session in list(self.sessions.items()):
            if not session.ref.is_alive():
                del self.sessions[phone]
                self.restarted += 1

    def _passivate(self, phone: str) -> None:
        session = self.sessions.pop(phone)
        # Queued behind nothing (in_flight is 0), so the session stops right away.
        with contextlib.suppress(pykka.ActorDeadError):
            session.ref.stop(block=False)
        self.passivated += 1

    def _passivate_lru(self, count: int) -> None:
        idle = sorted((s.last_used, phone) for phone, s in self.sessions.items() if not s.in_flight)
        for _, phone in idle[:count]:
            self._passivate(phone)

    def _publish(self) -> None:
        self.stats.live.set(len(self.sessions))
        self.stats.waiting.set(sum(len(m) for m in self.waiting.values()))

    # -- inspection --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "live": len(self.sessions),
            "peak": self.peak_sessions,
            "busy": sum(1 for s in self.sessions.values() if s.in_flight),
            "started": self.started,
            "passivated": self.passivated,
            "restarted": self.restarted,
            "routed": self.routed,
            "failed": self.failed,
            "refused": self.refused,
            "queued": self.queued,
            "waiting": sum(len(m) for m in self.waiting.values()),
            "recent_failures": list(self.failures),
            "idle_s": self.idle_s,
            "max": self.max_sessions,
            "locks": self.locks.snapshot() if self.locks is not None else None,
        }
