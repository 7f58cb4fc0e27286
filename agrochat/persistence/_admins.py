"""Admin panel users (argon2 password hashes) and their login sessions.

A session is known by a random token (the panel puts it in a cookie); the database keeps only its
SHA-256, so a copied database or backup logs nobody in. A session ends when it has been idle for
``idle``, or ``absolute`` after the login whatever happens, or at logout. Each session has its own
CSRF token, which the panel's forms carry back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import ClassVar

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agrochat.errors import Unprocessable
from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import admin_sessions, admins

MIN_PASSWORD_LENGTH = 10
IDLE_TIMEOUT = dt.timedelta(hours=2)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
# A request refreshes the session's idle expiry at most this often: one write per minute of
# activity, not one per page.
TOUCH_EVERY = dt.timedelta(minutes=1)


class AdminStore:
    # A class attribute so that tests can swap in a cheap hasher for every store at once.
    hasher: ClassVar[PasswordHasher] = PasswordHasher()

    def __init__(self, db: Database) -> None:
        self.db = db

    def set_password(self, username: str, password: str, *, keep_session: int | None = None) -> int:
        """Create the admin, or give an existing one a new password. A new password ends every
        session of that admin (but ``keep_session``, the one changing it), in the same
        transaction: a reset must shut out whoever knew the old one. Returns how many ended."""
        username = username.strip()
        if not username or len(username) > 64:
            raise Unprocessable("username must be 1 to 64 characters")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Unprocessable(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
        password_hash = self.hasher.hash(password)
        with self.db.tx() as conn:
            self.db.table("admins").upsert(
                {"username": username, "password_hash": password_hash, "created_at": utcnow()},
                ["username"],
            )
            ended = conn.execute(
                admin_sessions.delete().where(
                    admin_sessions.c.admin_id
                    == sa.select(admins.c.id)
                    .where(admins.c.username == username)
                    .scalar_subquery(),
                    admin_sessions.c.id != (keep_session if keep_session is not None else -1),
                )
            )
            return int(ended.rowcount or 0)

    def remove(self, username: str) -> int | None:
        """Remove the admin and end their sessions; how many sessions ended, or None when there
        is no such admin."""
        with self.db.tx() as conn:
            admin_id = conn.execute(
                sa.select(admins.c.id).where(admins.c.username == username.strip())
            ).scalar()
            if admin_id is None:
                return None
            # Explicitly, not by the foreign key's cascade: SQLite enforces that only on
            # connections that turned foreign keys on.
            ended = conn.execute(
                admin_sessions.delete().where(admin_sessions.c.admin_id == admin_id)
            )
            conn.execute(admins.delete().where(admins.c.id == admin_id))
            return int(ended.rowcount or 0)

    def browser_proof(self, username: str) -> str | None:
        """What a browser that logged in as this admin keeps to prove it (see the panel's login
        throttle), or None when there is no such admin. Derived from the password hash: nobody
        without the database can make one, and a new password voids them all."""
        with self.db.tx() as conn:
            password_hash = conn.execute(
                sa.select(admins.c.password_hash).where(admins.c.username == username)
            ).scalar()
        if password_hash is None:
            return None
        return hmac.new(
            password_hash.encode(), b"known-browser:" + username.encode(), hashlib.sha256
        ).hexdigest()

    def verify(self, username: str, password: str) -> int | None:
        """The admin's id when the password is theirs (their last login is recorded), else
        None."""
        with self.db.tx() as conn:
            row = conn.execute(
                sa.select(admins.c.id, admins.c.password_hash).where(admins.c.username == username)
            ).first()
        # Hashing takes about half a second: outside the transaction, which it would hold open.
        if row is None:
            # Hash anyway, so a wrong username takes as long as a wrong password.
            self.hasher.hash(password)
            return None
        try:
            self.hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        with self.db.tx() as conn:
            # Only if the password is still the one checked: a reset while it was being hashed
            # ends the admin's sessions, and must not let the old password in just after.
            still = conn.execute(
                admins.update()
                .where(admins.c.id == row.id, admins.c.password_hash == row.password_hash)
                .values(last_login_at=utcnow())
            )
        return int(row.id) if still.rowcount else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


class AdminSessionStore:
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

    def create(
        self,
        admin_id: int,
        *,
        ip: str | None = None,
        user_agent: str | None = None,
        now: dt.datetime | None = None,
    ) -> str:
        """A new session for the admin; returns its token (stored only hashed)."""
        now = now or utcnow()
        token = secrets.token_urlsafe(32)
        with self.db.tx() as conn:
            # Expired rows are only dead weight; a login is a rare enough moment to sweep them.
            conn.execute(admin_sessions.delete().where(admin_sessions.c.expires_at <= now))
            conn.execute(
                admin_sessions.insert().values(
                    token_hash=_hash(token),
                    admin_id=admin_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=min(now + self.idle, now + self.absolute),
                    ip=(ip or "")[:64] or None,
                    user_agent=(user_agent or "")[:200] or None,
                )
            )
        return token

    def lookup(self, token: str | None, *, now: dt.datetime | None = None) -> AdminSession | None:
        """The live session for a token (its idle expiry pushed forward), or None."""
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
