"""Admin panel logins: the cookies, CSRF tokens and a throttle on failed logins.

A login session (``AdminSessionStore``, in persistence) is a random token in an HttpOnly,
SameSite=Strict cookie. Each session has its own CSRF token, which every POST form carries back;
SameSite=Strict already keeps other sites' forms from sending the cookie, the token covers
browsers that ignore SameSite.

The throttle is in memory (one agrochat process serves the panel). It counts failures per
(client address, username), never per username alone: a per-user lockout lets anyone lock the
real admin out with five wrong passwords. Behind a reverse proxy the client address is the one
the trusted proxy forwards (``AGROCHAT_TRUSTED_PROXY``), so clients do not share one key. A
browser that has logged in as that admin before has a key of its own (``KNOWN_BROWSER_COOKIE``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Hashable

SESSION_COOKIE = "agrochat_admin"
# The login form's CSRF token lives in a cookie of its own (double submit): there is no session
# to keep it in before the login.
LOGIN_COOKIE = "agrochat_login"
COOKIE_PATH = "/admin"
# Kept by a browser after a login (AdminStore.browser_proof): its password tries are throttled
# on a key of their own, so failures by strangers, even from the same address (an office, a
# proxy not yet trusted), never delay a browser the admin has used before.
KNOWN_BROWSER_COOKIE = "agrochat_known"
KNOWN_BROWSER_MAX_AGE_S = 180 * 86_400


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str) -> bool:
    # compare_digest: the time taken must not tell how much of the token was right.
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


class LoginThrottle:
    """Password tries per key, e.g. (client address, username), with growing delays.

    The first ``free_failures`` failures cost nothing; after that a key waits
    ``base_delay_s * 2**k`` (at most ``max_delay_s``) after its latest failure before its next
    try. Only a key's own failures delay it: five wrong passwords for "ana" from one address do
    not delay "ana" elsewhere, so nobody can lock the real admin out by failing on purpose.

    A try is counted as a failure when it starts (``begin``, under the lock that checks the
    delay), and forgiven when the password was right (``succeeded``): concurrent tries cannot
    all pass the check before any of them is recorded. Failures are forgotten ``forget_s`` after
    the latest one.
    """

    # Bounds memory when someone sprays usernames: the keys that failed longest ago go first.
    MAX_KEYS = 10_000

    def __init__(
        self,
        *,
        free_failures: int = 5,
        base_delay_s: float = 30.0,
        max_delay_s: float = 900.0,
        forget_s: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.forget_s = forget_s
        self.clock = clock
        # key -> (failures, time of the latest); insertion order is the order of the latest.
        self._failures: dict[Hashable, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def delay(self, failures: int) -> float:
        """How long a key with this many failures waits after the latest."""
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2 ** (failures - self.free_failures))

    def _state(self, key: Hashable, now: float) -> tuple[int, float]:
        failures, last = self._failures.get(key, (0, now))
        if failures and now - last >= self.forget_s:
            del self._failures[key]
            return 0, now
        return failures, last

    def retry_after(self, key: Hashable) -> float:
        """Seconds until this key may try again; 0 when it may now. Records nothing."""
        now = self.clock()
        with self._lock:
            failures, last = self._state(key, now)
            return max(0.0, last + self.delay(failures) - now)

    def begin(self, key: Hashable) -> float:
        """Start a try: 0 when it may go ahead (and it is counted as failed until
        ``succeeded``), else the seconds to wait (and nothing is counted)."""
        now = self.clock()
        with self._lock:
            failures, last = self._state(key, now)
            wait = last + self.delay(failures) - now
            if failures and wait > 0:
                return wait
            self._failures.pop(key, None)
            self._failures[key] = (failures + 1, now)
            while len(self._failures) > self.MAX_KEYS:
                self._failures.pop(next(iter(self._failures)))
            return 0.0

    def succeeded(self, key: Hashable) -> None:
        """The try begun for this key had the right password: its failures are forgiven."""
        with self._lock:
            self._failures.pop(key, None)
