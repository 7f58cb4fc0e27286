"""Outgoing hygiene: replies cut to the platform's size, and a send rate that does not look like
bulk sending. Pure: no I/O, the clock injected.

Limits:
- Cloud API: ``text.body`` at most 4096 characters (Meta, messages reference).
- WAHA: its docs state no limit for ``sendText`` (WhatsApp itself accepts far longer texts); the
  same 4096 is used, since a farmer reads replies on a phone and a wall of text helps nobody.
- Rate: WhatsApp bans numbers that send in bursts (waha-docs, "How to Avoid Blocking"); the Cloud
  API refuses more than about one message every 6 s to the same user (error 131056, "pair rate
  limit") and caps a number's throughput (130429). A per-recipient bucket lets a split reply go
  out at once and then slows down; a global bucket keeps a burst of alerts from leaving at once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CLOUD_TEXT_LIMIT = 4096
WAHA_TEXT_LIMIT = 4096

# A sentence ends at . ! ? or … (closing quotes or brackets may follow) before whitespace; a
# decimal point ("2.5 litros") is not followed by whitespace, so it never ends one.
_SENTENCE_END = re.compile(r"[.!?…][\"'\u201d\u2019»)\]]*(?=\s)")


def split_message(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, in order, none empty.

    Each cut is at the latest sentence end or line break that fits; when a single sentence is
    longer than the limit, at the latest space; only a word longer than the limit is cut inside.
    The whitespace at a cut is dropped; nothing else is changed.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut(rest, limit)
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _cut(text: str, limit: int) -> int:
    """Where to cut ``text`` (longer than ``limit``) so the first part fits."""
    window = text[: limit + 1]  # a boundary at index ``limit`` still leaves ``limit`` characters
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    breaks = [i for i, ch in enumerate(window) if ch == "\n"]
    sentence = max([*ends, *breaks], default=0)
    if sentence > 0:
        return sentence
    space = max((i for i, ch in enumerate(window) if ch.isspace()), default=0)
    return space if space > 0 else limit


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """``rate_per_s`` tokens a second, at most ``burst`` saved up; one token per send."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a bucket needs a positive rate and a burst of at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst

    def fresh(self, now: float) -> _Bucket:
        return _Bucket(tokens=self.burst, updated=now)

    def refill(self, bucket: _Bucket, now: float) -> None:
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate_per_s)
        bucket.updated = now

    def wait_s(self, bucket: _Bucket) -> float:
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate_per_s


class SendRateLimiter:
    """How long to wait before the next send: per recipient and for the whole number.

    ``try_acquire(phone)`` answers 0.0 and counts the send when it may go now, or the seconds to
    wait (counting nothing): the outbox leaves the row pending and tries again then, so a
    restart loses nothing. A limit set to None is off. Thread-safe.
    """

    def __init__(
        self,
        *,
        per_recipient_per_min: float | None = 10.0,
        per_recipient_burst: float = 5,
        global_per_min: float | None = 30.0,
        global_burst: float = 10,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = 10_000,
    ) -> None:
        self.clock = clock
        self.per_recipient = (
            TokenBucket(per_recipient_per_min / 60.0, per_recipient_burst)
            if per_recipient_per_min
            else None
        )
        self.overall = TokenBucket(global_per_min / 60.0, global_burst) if global_per_min else None
        # The limits as configured: ``share`` divides them among the processes sending.
        self._limits = (self.per_recipient, self.overall)
        self.shared_by = 1
        self.max_tracked = max_tracked
        self._lock = threading.Lock()
        now = clock()
        self._global = self.overall.fresh(now) if self.overall else None
        self._recipients: dict[str, _Bucket] = {}

    def share(self, senders: int) -> None:
        """Several processes send through the same number (each with its own limiter): each
        takes ``1/senders`` of every rate and burst, so together they stay within the limits
        WhatsApp judges a number by. Tokens already saved are kept, up to the new burst."""
        senders = max(1, senders)
        with self._lock:
            if senders == self.shared_by:
                return
            self.shared_by = senders
            recipient, overall = self._limits
            self.per_recipient = _divided(recipient, senders)
            self.overall = _divided(overall, senders)
            if self.per_recipient is not None:
                for bucket in self._recipients.values():
                    bucket.tokens = min(bucket.tokens, self.per_recipient.burst)
            if self._global is not None and self.overall is not None:
                self._global.tokens = min(self._global.tokens, self.overall.burst)

    def wait_s(self, recipient: str) -> float:
        """Seconds until a send to ``recipient`` may go (0.0: now); counts nothing."""
        with self._lock:
            return self._wait(recipient, self.clock())

    def try_acquire(self, recipient: str) -> float:
        """0.0 and the send is counted, or the seconds to wait (nothing counted)."""
        with self._lock:
            now = self.clock()
            wait = self._wait(recipient, now)
            if wait > 0:
                return wait
            if self._global is not None:
                self._global.tokens -= 1
            if self.per_recipient is not None:
                bucket = self._recipients.get(recipient) or self.per_recipient.fresh(now)
                bucket.tokens -= 1
                self._recipients[recipient] = bucket
                if len(self._recipients) > self.max_tracked:
                    self._forget_full(now)
            return 0.0

    def _wait(self, recipient: str, now: float) -> float:
        waits = [0.0]
        if self.overall is not None and self._global is not None:
            self.overall.refill(self._global, now)
            waits.append(self.overall.wait_s(self._global))
        if self.per_recipient is not None:
            bucket = self._recipients.get(recipient)
            if bucket is not None:
                self.per_recipient.refill(bucket, now)
                waits.append(self.per_recipient.wait_s(bucket))
        return max(waits)

    def _forget_full(self, now: float) -> None:
        """A full bucket is the same as no bucket: drop those so memory stays bounded."""
        assert self.per_recipient is not None
        for recipient, bucket in list(self._recipients.items()):
            self.per_recipient.refill(bucket, now)
            if bucket.tokens >= self.per_recipient.burst:
                del self._recipients[recipient]

    @property
    def tracked(self) -> int:
        with self._lock:
            return len(self._recipients)


def _divided(bucket: TokenBucket | None, senders: int) -> TokenBucket | None:
    if bucket is None:
        return None
    return TokenBucket(bucket.rate_per_s / senders, max(1.0, bucket.burst / senders))
