"""ProducerLocks: one message at a time per producer, across every agrochat process.

In one process a producer's SessionActor mailbox already orders their messages. Several
processes on one PostgreSQL each have a session for the same producer as soon as messages for
them land on different processes (a load balancer spreads ``/agent``, Meta sends webhooks to any
of them, a standby takes the WhatsApp socket over), so the session also holds the producer's
PostgreSQL advisory lock while it works on a message. Another process's session for that
producer waits for it, then finds earlier messages answered (each row's status is re-read
under the lock) or answers them first (the conversation answers what was stored before its
message, oldest first), so the order of storage is the order of answers.

A transaction-level lock (``pg_advisory_xact_lock``) on a connection of its own: it ends with
the transaction, so a connection handed back to the pool can never keep one, and PostgreSQL
drops it when the holder's connection dies, so a process killed with SIGKILL frees its
producers at once (the kernel closes the socket, the server ends the backend). The wait is
bounded by ``lock_timeout``: a session never waits past its message's deadline.

SQLite takes one process (``ServingLock``), where the mailbox is enough: ``hold`` only counts.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from collections.abc import Iterator
from typing import NoReturn

import sqlalchemy as sa

from agrochat.errors import Overloaded
from agrochat.logs import get_logger
from agrochat.text import mask_phone

log = get_logger(__name__)

# The first key of the two-key form: agrochat's producers. PostgreSQL keeps the one-bigint
# form (the migration lock, 74657) in a key space of its own, so the two never collide.
_NAMESPACE = 74658
# Below this the wait is not worth a round trip: the message is as good as late.
_MIN_WAIT_S = 0.05


class ProducerBusy(Overloaded):
    """Another process kept this producer's lock past the wait allowed (its previous message
    is still being answered there)."""


def producer_lock_key(phone: str) -> int:
    """The producer's key: a signed 32-bit CRC of the canonical phone, the same in every
    process and on every PostgreSQL version (a collision only makes two producers share a
    turn, never breaks an order)."""
    key = zlib.crc32(phone.encode())
    return key - (1 << 32) if key >= 1 << 31 else key


class ProducerLocks:
    def __init__(self, url: str | None, *, pool_size: int = 8) -> None:
        """``url``: a PostgreSQL URL (locks are taken), or None (one process: only counted).
        ``pool_size``: connections kept for holding locks; this many producers of this process
        can be answered at once, the next ones wait for a connection (within their deadline)."""
        self.shared = url is not None
        self._engine = (
            sa.create_engine(
                url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True, pool_timeout=30
            )
            if url is not None
            else None
        )
        self._held: dict[str, int] = {}
        self._mutex = threading.Lock()
        self.acquired = 0
        self.timeouts = 0
        self.waited_s = 0.0

    @contextlib.contextmanager
    def hold(self, phone: str, *, timeout_s: float) -> Iterator[None]:
        """Hold ``phone``'s lock for the block; ProducerBusy when it is not free in time."""
        if self._engine is None:
            with self._counted(phone):
                yield
            return
        started = time.monotonic()
        wait_ms = max(int(timeout_s * 1000), int(_MIN_WAIT_S * 1000))
        try:
            conn = self._engine.connect()
        except sa.exc.TimeoutError:
            self._timed_out(phone, "no connection free to hold it")
        try:
            with conn.begin():
                try:
                    # SET LOCAL: the bound ends with this transaction, not with the connection.
                    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{wait_ms}ms'"))
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                        {"ns": _NAMESPACE, "key": producer_lock_key(phone)},
                    )
                except sa.exc.OperationalError as exc:
                    if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                        self._timed_out(phone, "held by another process")
                    raise
                self.waited_s += time.monotonic() - started
                with self._counted(phone):
                    yield
                # Leaving the transaction (commit or rollback) releases the lock.
        finally:
            conn.close()

    def _timed_out(self, phone: str, why: str) -> NoReturn:
        self.timeouts += 1
        log.warning("producer's turn not free in time", producer=mask_phone(phone), why=why)
        raise ProducerBusy(
            "this producer's previous message is still being answered; retry shortly"
        )

    @contextlib.contextmanager
    def _counted(self, phone: str) -> Iterator[None]:
        with self._mutex:
            self._held[phone] = self._held.get(phone, 0) + 1
            self.acquired += 1
        try:
            yield
        finally:
            with self._mutex:
                left = self._held[phone] - 1
                if left:
                    self._held[phone] = left
                else:
                    del self._held[phone]

    def held(self) -> list[str]:
        """The producers this process is answering right now (canonical phones)."""
        with self._mutex:
            return sorted(self._held)

    def snapshot(self) -> dict[str, object]:
        held = self.held()
        return {
            "shared": self.shared,
            "held": len(held),
            "producers": [mask_phone(p) for p in held],
            "acquired": self.acquired,
            "timeouts": self.timeouts,
            "waited_s": round(self.waited_s, 3),
        }

    def render_metrics(self) -> str:
        """Prometheus text: what /metrics adds for the producers' locks."""
        return (
            "# HELP agrochat_producers_held Producers this process is answering now "
            "(their lock held)\n"
            "# TYPE agrochat_producers_held gauge\n"
            f"agrochat_producers_held {len(self.held())}\n"
            "# HELP agrochat_producer_lock_timeouts_total Messages that waited too long "
            "for their producer's turn\n"
            "# TYPE agrochat_producer_lock_timeouts_total counter\n"
            f"agrochat_producer_lock_timeouts_total {self.timeouts}\n"
            "# HELP agrochat_producer_lock_wait_seconds_total Time spent waiting for "
            "producers' turns\n"
            "# TYPE agrochat_producer_lock_wait_seconds_total counter\n"
            f"agrochat_producer_lock_wait_seconds_total {self.waited_s:.3f}\n"
        )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
