"""Admin panel logins: the cookies, CSRF tokens and a throttle on failed logins.

A login session (``AdminSessionStore``, in persistence) is a random token in an HttpOnly,
SameSite=Strict cookie. Each session has its own CSRF token, which every POST form carries back;
SameSite=Strict already keeps other sites' forms from sending the cookie, the token covers
browsers that ignore SameSite.

The throttle is in memory (one agrochat process serves the panel); it counts failures per client
address and per username, so neither guessing one admin's password from many addresses nor many
admins' passwords from one address gets more than a few tries per window.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable

SESSION_COOKIE = "agrochat_admin"
# The login form's CSRF token lives in a cookie of its own (double submit): there is no session
# to keep it in before the login.
LOGIN_COOKIE = "agrochat_login"
COOKIE_PATH = "/admin"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str) -> bool:
    # compare_digest: the time taken must not tell how much of the token was right.
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


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
