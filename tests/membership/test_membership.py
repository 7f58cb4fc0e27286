"""Membership, the plain logic: processes on one database with a clock the test moves (no
sleeps). One owns each WAHA session; a standby takes it once the lease ran out or was released;
a holder whose renewals fail gives the session up a margin before its lease expires."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from agrochat.actors.membership import Membership, Ownership, give_up_margin_s, lease_name
from agrochat.messages import GatewayLost, GatewayOwned
from agrochat.persistence import Database, LeaseStore, ProcessInfo, ProcessStore

T0 = dt.datetime(2026, 9, 15, 8, 0, 0)
TTL = 10.0
BEAT = 2.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Node:
    """One process: its membership and what it announced to its WhatsApp actor."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        name: str,
        *,
        channels: tuple[str, ...] = ("default",),
        leases: Any = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        self.told: list[GatewayOwned | GatewayLost] = []
        self.process = ProcessInfo(
            id=f"{name}:1:abcdef",
            host=name,
            pid=1,
            bind="127.0.0.1:5000",
            version="0.1.0",
            started_at=clock(),
        )
        self.ownership = Ownership(
            self.process.id,
            channels,
            margin_s=give_up_margin_s(TTL),
            announce=self.told.append,
        )
        self.membership = Membership(
            self.process,
            processes=ProcessStore(db),
            leases=leases or LeaseStore(db),
            ownership=self.ownership,
            ttl_s=TTL,
            heartbeat_s=BEAT,
            facts=facts,
            clock=clock,
        )


class FailingLeases:
    """The database stops answering lease calls while ``failing`` (or answers slowly: each call
    moves the clock on by ``slow_s``)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.store = LeaseStore(db)
        self.clock = clock
        self.failing = False
        self.slow_s = 0.0

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        if self.failing:
            raise ConnectionError("could not connect to server")
        lease = self.store.acquire(*args, **kwargs)
        self.clock.advance(self.slow_s)
        return lease

    def release(self, *args: Any, **kwargs: Any) -> Any:
        return self.store.release(*args, **kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_the_first_process_owns_every_waha_session_from_its_first_beat(
    sqlite_database: Database, clock: Clock
) -> None:
    node = Node(sqlite_database, clock, "campo-1", channels=("default", "ventas"))
    changes = node.membership.beat()
    assert changes.gained == ("default", "ventas")
    assert node.told == [GatewayOwned(channel="default"), GatewayOwned(channel="ventas")]
    assert node.ownership.roles() == {"default": "owned", "ventas": "owned"}
    row = ProcessStore(sqlite_database).get(node.process.id)
    assert row is not None and row.owns == {"gateway": ["default", "ventas"]}
    assert node.ownership.processes_alive == 1


def test_renewing_announces_nothing_new(sqlite_database: Database, clock: Clock) -> None:
    node = Node(sqlite_database, clock, "campo-1")
    node.membership.beat()
    for _ in range(10):
        clock.advance(BEAT)
        assert node.membership.beat().gained == ()
    assert node.told == [GatewayOwned(channel="default")]
    lease = LeaseStore(sqlite_database).get(lease_name("default"))
    assert lease is not None and lease.expires_at == clock.now + dt.timedelta(seconds=TTL)


def test_a_second_process_stands_by_then_takes_over_once_the_lease_ran_out(
    sqlite_database: Database, clock: Clock
) -> None:
    first = Node(sqlite_database, clock, "campo-1")
    second = Node(sqlite_database, clock, "campo-2")
    first.membership.beat()
    second.membership.beat()
    assert second.ownership.roles() == {"default": "standby"} and second.told == []
    # The first is killed: it beats no more. Just before its lease runs out, still standby.
    clock.advance(TTL - 0.5)
    second.membership.beat()
    assert second.told == []
    clock.advance(0.5)
    assert second.membership.beat().gained == ("default",)
    assert second.told == [GatewayOwned(channel="default")]
    assert second.ownership.processes_alive == 1  # the first one's heartbeat is too old


def test_a_holder_that_finds_its_lease_taken_lets_the_session_go(
    sqlite_database: Database, clock: Clock
) -> None:
    first = Node(sqlite_database, clock, "campo-1")
    first.membership.beat()
    # Paused (a stopped VM, a long GC) past its lease's expiry: another took the session.
    clock.advance(TTL)
    second = Node(sqlite_database, clock, "campo-2")
    assert second.membership.beat().gained == ("default",)
    changes = first.membership.beat()
    assert changes.lost == ("default",)
    assert first.told == [GatewayOwned(channel="default"), GatewayLost(channel="default")]


def test_failing_renewals_give_the_session_up_a_margin_before_the_lease_expires(
    sqlite_database: Database, clock: Clock
) -> None:
    leases = FailingLeases(sqlite_database, clock)
    node = Node(sqlite_database, clock, "campo-1", leases=leases)
    node.membership.beat()
    leases.failing = True
    margin = give_up_margin_s(TTL)
    # Renewals fail; the lease (as others see it) runs to T0 + TTL.
    clock.advance(BEAT)
    assert node.membership.beat().lost == ()
    clock.advance(TTL - margin - BEAT - 0.1)
    assert node.membership.expire().lost == ()
    assert node.ownership.holds("default")
    clock.advance(0.1)
    # The watch thread's check, between heartbeats: no database needed to give up.
    assert node.membership.expire().lost == ("default",)
    assert node.told[-1] == GatewayLost(channel="default")
    assert clock.now < T0 + dt.timedelta(seconds=TTL)
    # Once the database answers again, the lease (no one took it) is ours again.
    leases.failing = False
    clock.advance(BEAT)
    assert node.membership.beat().gained == ("default",)
    assert node.membership.errors == 1


def test_a_renewal_that_answers_after_the_margin_does_not_count(
    sqlite_database: Database, clock: Clock
) -> None:
    leases = FailingLeases(sqlite_database, clock)
    node = Node(sqlite_database, clock, "campo-1", leases=leases)
    leases.slow_s = TTL - give_up_margin_s(TTL)  # the database took that long to answer
    assert node.membership.beat().gained == ()
    assert node.ownership.roles() == {"default": "standby"}


def test_a_clean_stop_releases_the_session_for_a_standby_at_once(
    sqlite_database: Database, clock: Clock
) -> None:
    first = Node(sqlite_database, clock, "campo-1")
    second = Node(sqlite_database, clock, "campo-2")
    first.membership.beat()
    second.membership.beat()
    first.membership.stop()
    assert first.told[-1] == GatewayLost(channel="default")
    row = ProcessStore(sqlite_database).get(first.process.id)
    assert row is not None and row.stopped_at == clock.now
    clock.advance(BEAT)  # the standby's next heartbeat, long before the lease's expiry
    assert second.membership.beat().gained == ("default",)


def test_the_heartbeat_row_carries_the_facts_and_survives_a_failing_one(
    sqlite_database: Database, clock: Clock
) -> None:
    def broken() -> int:
        raise RuntimeError("directory restarting")

    node = Node(sqlite_database, clock, "campo-1", facts={"producers": lambda: 3, "other": broken})
    node.membership.beat()
    row = ProcessStore(sqlite_database).get(node.process.id)
    assert row is not None and row.owns == {"gateway": ["default"], "producers": 3}
    assert node.membership.errors == 1


def test_a_process_without_waha_sessions_only_beats(
    sqlite_database: Database, clock: Clock
) -> None:
    node = Node(sqlite_database, clock, "campo-1", channels=())
    assert node.membership.beat().gained == ()
    assert LeaseStore(sqlite_database).all() == []
    assert [p.id for p in ProcessStore(sqlite_database).alive(6, now=clock.now)] == [
        node.process.id
    ]


def test_losing_one_session_is_announced_before_gaining_another() -> None:
    told: list[Any] = []
    ownership = Ownership("p", ("default", "ventas"), margin_s=1, announce=told.append)
    ownership.renewed({"default": T0 + dt.timedelta(seconds=10)}, T0)
    told.clear()
    ownership.renewed({"default": None, "ventas": T0 + dt.timedelta(seconds=10)}, T0)
    assert told == [GatewayLost(channel="default"), GatewayOwned(channel="ventas")]
