"""Admin panel logins: server-side sessions, CSRF tokens and a throttle on failed logins.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the database keeps only its
SHA-256 (a copied database or backup logs nobody in). A session ends when it has been idle for
``idle``, or ``absolute`` after the login whatever happens, or at logout. Each session has its
own CSRF token, which every POST form carries back; SameSite=Strict already keeps other sites'
forms from sending the cookie, the token covers browsers that ignore SameSite.

The throttle is in memory (one agrochat process serves the panel); it counts failures per client
address and per username, so neither guessing one admin's password from many addresses nor many
admins' passwords from one address gets more than a few tries per window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from agrochat.persistence import Database, utcnow
from agrochat.persistence._schema import admin_sessions, admins

SESSION_COOKIE = "agrochat_admin"
# The login form's CSRF token lives in a cookie of its own (double submit): there is no session
# to keep it in before the login.
LOGIN_COOKIE = "agrochat_login"
COOKIE_PATH = "/admin"

IDLE_TIMEOUT = dt.timedelta(hours=2)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
# A request refreshes the session's idle expiry at most this often: one write per minute of
# activity, not one per page.
TOUCH_EVERY = dt.timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str) -> bool:
    # compare_digest: the time taken must not tell how much of the token was right.
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


@dataclass(frozen=True)
class AdminSession:
    id: int
    admin_id: int
    username: str
    csrf_token: str
    created_at: dt.datetime
    expires_at: dt.datetime

    @property
    def actor(self) -> str:
        """How the audit table names this admin."""
        return f"admin:{self.username}"


class AdminSessions:
    """The admin_sessions table."""

    def __init__(
        self,
        db: Database,
        *,
        idle: dt.timedelta = IDLE_TIMEOUT,
        absolute: dt.timedelta = ABSOLUTE_TIMEOUT,
    ) -> None:
        self.db = db
        self.idle = idle
        self.absolute = absolute

    def admin_id(self, username: str) -> int | None:
        with self.db.tx() as conn:
            found = conn.execute(
                sa.select(admins.c.id).where(admins.c.username == username)
            ).scalar()
            return int(found) if found is not None else None

    def create(
        self,
        admin_id: int,
        *,
        ip: str | None = None,
        user_agent: str | None = None,
        now: dt.datetime | None = None,
    ) -> str:
        """A new session for the admin; returns the token for the cookie (stored only hashed)."""
        now = now or utcnow()
        token = new_token()
        with self.db.tx() as conn:
            # Expired rows are only dead weight; a login is a rare enough moment to sweep them.
            conn.execute(admin_sessions.delete().where(admin_sessions.c.expires_at <= now))
            conn.execute(
                admin_sessions.insert().values(
                    token_hash=_hash(token),
                    admin_id=admin_id,
                    csrf_token=new_token(),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=min(now + self.idle, now + self.absolute),
                    ip=(ip or "")[:64] or None,
                    user_agent=(user_agent or "")[:200] or None,
                )
            )
        return token

    def lookup(self, token: str | None, *, now: dt.datetime | None = None) -> AdminSession | None:
        """The live session for a cookie's token (its idle expiry pushed forward), or None."""
        if not token or len(token) > 200:
            return None
        now = now or utcnow()
        s = admin_sessions.c
        with self.db.tx() as conn:
            row = conn.execute(
                sa.select(
                    s.id,
                    s.admin_id,
                    admins.c.username,
                    s.csrf_token,
                    s.created_at,
                    s.last_seen_at,
                    s.expires_at,
                )
                .join(admins, admins.c.id == s.admin_id)
                .where(s.token_hash == _hash(token), s.expires_at > now)
            ).first()
            if row is None:
                return None
            expires = row.expires_at
            if now - row.last_seen_at >= TOUCH_EVERY:
                expires = min(now + self.idle, row.created_at + self.absolute)
                conn.execute(
                    admin_sessions.update()
                    .where(s.id == row.id)
                    .values(last_seen_at=now, expires_at=expires)
                )
            return AdminSession(
                id=int(row.id),
                admin_id=int(row.admin_id),
                username=row.username,
                csrf_token=row.csrf_token,
                created_at=row.created_at,
                expires_at=expires,
            )

    def end(self, session_id: int) -> None:
        with self.db.tx() as conn:
            conn.execute(admin_sessions.delete().where(admin_sessions.c.id == session_id))

    def end_others(self, admin_id: int, *, keep: int) -> int:
        """End every other session of an admin (after a password change); returns how many."""
        with self.db.tx() as conn:
            result = conn.execute(
                admin_sessions.delete().where(
                    admin_sessions.c.admin_id == admin_id, admin_sessions.c.id != keep
                )
            )
            return int(result.rowcount or 0)


class LoginThrottle:
    """At most ``max_failures`` failed logins per key within ``window_s``; then locked until the
    oldest failure leaves the window. Keys are e.g. ``("ip", addr)`` and ``("user", name)``."""

    # Bounds memory when someone sprays usernames: the oldest keys are forgotten first.
    MAX_KEYS = 10_000

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, ()) if now - t < self.window_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def retry_after(self, *keys: tuple[str, str]) -> float:
        """Seconds until a login may be tried again for these keys; 0 when allowed now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[-self.max_failures] + self.window_s - now)
        return wait

    def failed(self, *keys: tuple[str, str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, []).append(now)
            while len(self._failures) > self.MAX_KEYS:
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, *keys: tuple[str, str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
