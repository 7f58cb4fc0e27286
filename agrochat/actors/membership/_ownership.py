"""Ownership: which gateway channels this process holds right now.

Shared, like GatewayState: the membership writes it (its heartbeats, and a watch thread that
gives a lease up when renewals stop working), the WhatsAppActor reads it when it (re)starts, and
/health, /metrics and /debug read it. Every transition is announced once, under the lock, in
the order it happened (``GatewayOwned`` / ``GatewayLost`` through ``announce``), so the last
message the WhatsAppActor receives always says how things stand.

A channel is held while ``now < expires_at - margin``: the holder stops its stream a margin
before the lease's expiry as the other processes see it, so two processes never hold one WAHA
session's socket even with a little clock skew or a stream that takes a moment to close.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from agrochat.messages import GatewayLost, GatewayOwned

Announce = Callable[[GatewayOwned | GatewayLost], None]

# /health answers anyone: the process id is shown only in these characters.
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:-]")


@dataclass(frozen=True)
class Changes:
    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()


def lease_name(channel: str) -> str:
    """The lease of a WAHA session's event stream."""
    return f"gateway:waha:{channel}"


class Ownership:
    def __init__(
        self,
        process_id: str,
        channels: Iterable[str] = (),
        *,
        margin_s: float,
        announce: Announce | None = None,
    ) -> None:
        """``channels``: the WAHA sessions leased (in configuration order); ``margin_s``: how
        long before a lease's expiry this process gives it up."""
        self.process_id = process_id
        self.channels = tuple(channels)
        self.margin = dt.timedelta(seconds=margin_s)
        self.announce = announce
        self._lock = threading.Lock()
        self._expires: dict[str, dt.datetime] = {}
        self._owned: frozenset[str] = frozenset()
        self.processes_alive: int | None = None

    # -- written by the membership ---------------------------------------------------------

    def renewed(self, results: Mapping[str, dt.datetime | None], now: dt.datetime) -> Changes:
        """After a round of acquisitions: ``results[channel]`` is the lease's new expiry, or
        None when another process holds it; a channel left out could not be asked (the
        database failed) and keeps the expiry it had. ``now``: read after the round."""
        with self._lock:
            for channel, expires_at in results.items():
                if expires_at is None:
                    self._expires.pop(channel, None)
                else:
                    self._expires[channel] = expires_at
            return self._settle(now)

    def expire(self, now: dt.datetime) -> Changes:
        """Give up the channels whose renewal is overdue (the watch thread, several times a
        heartbeat: the database may hang the heartbeat itself)."""
        with self._lock:
            return self._settle(now)

    def drop_all(self) -> Changes:
        """This process holds nothing any more (stopping, or its membership failed)."""
        with self._lock:
            self._expires.clear()
            return self._announce(frozenset())

    def _settle(self, now: dt.datetime) -> Changes:
        for channel, expires_at in list(self._expires.items()):
            if now >= expires_at - self.margin:
                del self._expires[channel]
        return self._announce(frozenset(self._expires))

    def _announce(self, owned: frozenset[str]) -> Changes:
        gained = tuple(c for c in self.channels if c in owned and c not in self._owned)
        lost = tuple(c for c in self.channels if c in self._owned and c not in owned)
        self._owned = owned
        if self.announce is not None:
            # Lost first: a channel is never announced owned before another is let go.
            for channel in lost:
                self.announce(GatewayLost(channel=channel))
            for channel in gained:
                self.announce(GatewayOwned(channel=channel))
        return Changes(gained=gained, lost=lost)

    # -- read by anyone --------------------------------------------------------------------

    def owned(self) -> frozenset[str]:
        with self._lock:
            return self._owned

    def holds(self, channel: str) -> bool:
        return channel in self.owned()

    def expiries(self) -> dict[str, dt.datetime]:
        """The leases held, by channel: when each runs out unless renewed."""
        with self._lock:
            return {c: self._expires[c] for c in self.channels if c in self._owned}

    def roles(self) -> dict[str, str]:
        """Each leased channel: "owned" here, or "standby" (another process has it, or no one
        could take it yet)."""
        owned = self.owned()
        return {c: "owned" if c in owned else "standby" for c in self.channels}

    @property
    def public_id(self) -> str:
        return _ID_CHARS.sub("_", self.process_id)[:128]
