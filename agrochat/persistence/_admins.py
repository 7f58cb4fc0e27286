"""Admin panel users, with argon2 password hashes."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agrochat.errors import Unprocessable
from agrochat.persistence._database import Database, utcnow

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10


class AdminStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set_password(self, username: str, password: str) -> None:
        """Create the admin, or give an existing one a new password."""
        username = username.strip()
        if not username or len(username) > 64:
            raise Unprocessable("username must be 1 to 64 characters")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Unprocessable(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
        with self.db.tx():
            self.db.table("admins").upsert(
                {
                    "username": username,
                    "password_hash": _hasher.hash(password),
                    "created_at": utcnow(),
                },
                ["username"],
            )

    def verify(self, username: str, password: str) -> bool:
        with self.db.tx():
            row: dict[str, Any] | None = self.db.table("admins").find_one(username=username)
            if row is None:
                # Hash anyway, so a wrong username takes as long as a wrong password.
                _hasher.hash(password)
                return False
            try:
                _hasher.verify(row["password_hash"], password)
            except (VerificationError, InvalidHashError):
                return False
            self.db.table("admins").update({"id": row["id"], "last_login_at": utcnow()}, ["id"])
            return True
