"""Membership: this process among the others on one database (plain logic; the actor ticks it).

Every heartbeat it takes or renews the lease of each WAHA session (one process owns a session's
event stream; the others stand by and take it when the lease runs out), then writes this
process's row: alive, and what it holds. A clean stop gives everything up and marks the row
stopped, so a standby takes over at the next heartbeat instead of after the lease's expiry.

Any database error is counted and logged, never raised: a lease whose renewal keeps failing is
given up by ``Ownership`` a margin before it expires, which is what matters to the others.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from typing import Any

import agrochat
from agrochat.actors.membership._ownership import Changes, Ownership, lease_name
from agrochat.logs import get_logger
from agrochat.persistence import LeaseStore, ProcessInfo, ProcessStore, utcnow

log = get_logger(__name__)

# A process is alive while its last heartbeat is at most this many intervals old.
ALIVE_BEATS = 3
# Rows of processes gone this long are deleted (a crash never marks its row stopped).
PRUNE_AFTER_S = 24 * 3600.0
PRUNE_EVERY_S = 3600.0

Facts = Mapping[str, Callable[[], Any]]


def new_process(bind: str, *, now: dt.datetime | None = None) -> ProcessInfo:
    """This process's identity, made once at start: host and pid name it for people, the random
    part keeps a pid reused after a restart (or in another container) from naming it again."""
    host = socket.gethostname()
    pid = os.getpid()
    return ProcessInfo(
        id=f"{host}:{pid}:{secrets.token_hex(3)}",
        host=host,
        pid=pid,
        bind=bind,
        version=agrochat.__version__,
        started_at=now or utcnow(),
    )


def give_up_margin_s(ttl_s: float) -> float:
    """How long before its expiry a lease not renewed is given up: a quarter of the TTL (with
    the defaults, a stream stops 2.5 s before a standby may take the session)."""
    return ttl_s / 4


class Membership:
    def __init__(
        self,
        process: ProcessInfo,
        *,
        processes: ProcessStore,
        leases: LeaseStore,
        ownership: Ownership,
        ttl_s: float,
        heartbeat_s: float,
        facts: Facts | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """``facts``: more of what this process holds, for its row (name -> callable, e.g. the
        number of producers whose sessions it has), read at each heartbeat."""
        self.process = process
        self.processes = processes
        self.leases = leases
        self.ownership = ownership
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self.facts = facts if facts is not None else {}
        self.clock = clock
        self.beats = 0
        self.errors = 0
        self.last_error: str | None = None
        self._pruned_at: dt.datetime | None = None

    def beat(self) -> Changes:
        """One heartbeat: leases first (they are what a standby waits on), then the row."""
        now = self.clock()
        results: dict[str, dt.datetime | None] = {}
        for channel in self.ownership.channels:
            try:
                lease = self.leases.acquire(
                    lease_name(channel), self.process.id, self.ttl_s, now=now
                )
            except Exception as exc:
                self._error("could not renew a gateway lease", exc, channel=channel)
                continue
            results[channel] = lease.expires_at if lease is not None else None
        # The clock again: a slow database may have eaten the margin already.
        changes = self.ownership.renewed(results, self.clock())
        for channel in changes.gained:
            log.info("gateway lease taken", channel=channel, process=self.process.id)
        for channel in changes.lost:
            log.warning("gateway lease lost", channel=channel, process=self.process.id)
        try:
            self.processes.heartbeat(self.process, self.owns(), now=now)
            alive = self.processes.alive(ALIVE_BEATS * self.heartbeat_s, now=now)
            self.ownership.processes_alive = len(alive)
            self._prune(now)
        except Exception as exc:
            self._error("could not write the heartbeat", exc)
        self.beats += 1
        return changes

    def expire(self) -> Changes:
        """Give up leases whose renewal is overdue (called between heartbeats)."""
        changes = self.ownership.expire(self.clock())
        for channel in changes.lost:
            log.warning("gateway lease not renewed in time", channel=channel)
        return changes

    def stop(self) -> None:
        """A clean stop: the streams are told to stop first, then the leases are released and
        the row marked stopped, so a standby may take over at its next heartbeat."""
        self.ownership.drop_all()
        for channel in self.ownership.channels:
            try:
                self.leases.release(lease_name(channel), self.process.id)
            except Exception as exc:
                self._error("could not release a gateway lease", exc, channel=channel)
        try:
            self.processes.mark_stopped(self.process.id, now=self.clock())
        except Exception as exc:
            self._error("could not mark the process stopped", exc)

    def owns(self) -> dict[str, Any]:
        """What this process's row says it holds."""
        owns: dict[str, Any] = {"gateway": sorted(self.ownership.owned())}
        for name, fact in self.facts.items():
            try:
                owns[name] = fact()
            except Exception as exc:
                self._error("a heartbeat fact failed", exc, fact=name)
        return owns

    def _prune(self, now: dt.datetime) -> None:
        if self._pruned_at is not None and now - self._pruned_at < dt.timedelta(
            seconds=PRUNE_EVERY_S
        ):
            return
        self._pruned_at = now
        pruned = self.processes.prune(PRUNE_AFTER_S, now=now)
        if pruned:
            log.info("pruned the rows of processes long gone", rows=pruned)

    def _error(self, what: str, exc: Exception, **fields: Any) -> None:
        self.errors += 1
        self.last_error = repr(exc)
        log.warning(what, error=repr(exc), **fields)

    def snapshot(self) -> dict[str, Any]:
        return {
            "process": self.process.id,
            "bind": self.process.bind,
            "leases": [
                {"name": lease_name(c), "expires_at": at.isoformat()}
                for c, at in self.ownership.expiries().items()
            ],
            "standby": [c for c, role in self.ownership.roles().items() if role == "standby"],
            "processes_alive": self.ownership.processes_alive,
            "beats": self.beats,
            "errors": self.errors,
            "last_error": self.last_error,
        }
