from __future__ import annotations

import datetime as dt

from freezegun import freeze_time

from agrochat.persistence import AlertStore, Database, OutboxStore, utcnow
from tests.alerts._data import add_producer

T0 = dt.datetime(2026, 3, 1, 12, 0, 0)


def test_enqueued_message_is_pending_until_claimed(database: Database) -> None:
    store = OutboxStore(database)
    oid = store.enqueue("51987654321", "Hola")
    row = store.get(oid)
    assert row is not None
    assert (row.status, row.phone, row.text, row.alert_id) == (
        "pending",
        "51987654321",
        "Hola",
        None,
    )


def test_claim_takes_pending_rows_oldest_first_and_leases_them(database: Database) -> None:
    store = OutboxStore(database)
    with freeze_time(T0):
        ids = [store.enqueue(f"5198765432{i}", f"m{i}") for i in range(3)]
        claimed = store.claim(2, lease_s=60)
        assert [m.id for m in claimed] == ids[:2]
        assert all(m.status == "sending" for m in claimed)
        assert claimed[0].lease_until == T0 + dt.timedelta(seconds=60)
        # Leased rows are not claimed again while the lease holds.
        assert [m.id for m in store.claim(10, lease_s=60)] == [ids[2]]
        assert store.claim(10, lease_s=60) == []


def test_a_producers_later_row_waits_while_an_earlier_one_is_being_sent(
    database: Database,
) -> None:
    store = OutboxStore(database)
    with freeze_time(T0):
        first, second = (store.enqueue("51987654321", text) for text in ("uno", "dos"))
        other = store.enqueue("51911222333", "otro")
        # Another process is sending the first: the second would overtake it at WhatsApp.
        assert store.claim_one(first, lease_s=60) is not None
        assert store.claim_one(second, lease_s=60) is None
        assert [m.id for m in store.claim(10, lease_s=60)] == [other]
        store.mark_sent(first, "wamid.1")
        assert [m.id for m in store.claim(10, lease_s=60)] == [second]


def test_a_producers_later_row_waits_out_an_earlier_rows_retry(database: Database) -> None:
    store = OutboxStore(database)
    with freeze_time(T0) as clock:
        first = store.enqueue("51987654321", "uno")
        second = store.enqueue("51987654321", "dos")
        assert [m.id for m in store.claim(1, lease_s=60)] == [first]
        store.mark_failed(first, "gateway down", retryable=True, now=T0)
        assert store.claim(10, lease_s=60) == []
        clock.tick(3600)
        # Both go, in their order, in one claim.
        assert [m.id for m in store.claim(10, lease_s=60)] == [first, second]


def test_a_claim_whose_lease_ran_out_and_was_taken_elsewhere_may_not_send(
    database: Database,
) -> None:
    store = OutboxStore(database)
    with freeze_time(T0) as clock:
        oid = store.enqueue("51987654321", "Hola")
        [mine] = store.claim(5, lease_s=60)
        assert store.renew(mine, lease_s=60)  # still mine: the lease starts again
        clock.tick(121)
        [theirs] = store.claim(5, lease_s=60)  # another process, once it ran out
        assert theirs.id == oid
        assert not store.renew(mine, lease_s=60)
        assert store.renew(theirs, lease_s=60)


def test_row_whose_lease_ran_out_is_claimed_again(database: Database) -> None:
    store = OutboxStore(database)
    with freeze_time(T0) as clock:
        oid = store.enqueue("51987654321", "Hola")
        assert [m.id for m in store.claim(1, lease_s=60)] == [oid]
        clock.tick(59)
        assert store.claim(1, lease_s=60) == []
        clock.tick(2)
        assert [m.id for m in store.claim(1, lease_s=60)] == [oid]


def test_sent_row_is_never_claimed_again(database: Database) -> None:
    store = OutboxStore(database)
    with freeze_time(T0) as clock:
        oid = store.enqueue("51987654321", "Hola")
        store.claim(1, lease_s=60)
        assert store.mark_sent(oid, "true_51987654321@c.us_ABC") is True
        assert store.mark_sent(oid, "other") is False
        clock.tick(3600)
        assert store.claim(10, lease_s=60) == []
        assert store.claim_one(oid, lease_s=60) is None
    row = store.get(oid)
    assert row is not None
    assert (row.status, row.gateway_message_id, row.sent_at) == (
        "sent",
        "true_51987654321@c.us_ABC",
        T0,
    )


def test_claim_one_refuses_a_row_leased_by_someone_else(database: Database) -> None:
    store = OutboxStore(database)
    with freeze_time(T0):
        oid = store.enqueue("51987654321", "Hola")
        first = store.claim_one(oid, lease_s=60)
        assert first is not None and first.status == "sending"
        assert store.claim_one(oid, lease_s=60) is None


def test_retryable_failure_backs_off_exponentially(database: Database) -> None:
    store = OutboxStore(database)
    with freeze_time(T0) as clock:
        oid = store.enqueue("51987654321", "Hola")
        store.claim(1, lease_s=60)
        row = store.mark_failed(oid, "gateway down", retryable=True)
        assert row is not None and row.status == "pending" and row.attempts == 1
        assert row.lease_until == T0 + dt.timedelta(seconds=15)
        clock.tick(14)
        assert store.claim(1, lease_s=60) == []
        clock.tick(1)
        assert [m.id for m in store.claim(1, lease_s=60)] == [oid]
        row = store.mark_failed(oid, "gateway down", retryable=True)
        assert row is not None and row.lease_until == utcnow() + dt.timedelta(seconds=30)


def test_permanent_failure_is_final(database: Database) -> None:
    store = OutboxStore(database)
    with freeze_time(T0) as clock:
        oid = store.enqueue("51987654321", "Hola")
        store.claim(1, lease_s=60)
        row = store.mark_failed(oid, "invalid number", retryable=False)
        assert row is not None and (row.status, row.last_error) == ("failed", "invalid number")
        clock.tick(86400)
        assert store.claim(10, lease_s=60) == []


def test_an_alert_enqueued_twice_gets_one_row_while_the_first_is_live(database: Database) -> None:
    add_producer(database, "51987654321")
    alert_id = AlertStore(database).create(
        phone="51987654321", message="Helada", level="alta", source="api"
    )
    store = OutboxStore(database)
    first = store.enqueue("51987654321", "Helada", alert_id=alert_id)
    assert store.enqueue("51987654321", "Helada", alert_id=alert_id) == first
    store.claim(1, lease_s=60)
    store.mark_failed(first, "boom", retryable=False)
    # A failed row is history: a retry of the alert is a new row.
    assert store.enqueue("51987654321", "Helada", alert_id=alert_id) != first
    assert len(store.for_alert(alert_id)) == 2


def test_alert_state_is_the_furthest_any_of_its_rows_reached(database: Database) -> None:
    alert_id = AlertStore(database).create(
        phone="51987654321", message="Helada", level="alta", source="api"
    )
    store = OutboxStore(database)
    assert store.alert_state(alert_id) is None
    first = store.enqueue("51987654321", "Helada", alert_id=alert_id)
    assert store.alert_state(alert_id) == "in_flight"
    store.claim(1, lease_s=60)
    store.mark_failed(first, "boom", retryable=False)
    assert store.alert_state(alert_id) is None  # a failed row settles nothing
    second = store.enqueue("51987654321", "Helada", alert_id=alert_id)
    store.claim(1, lease_s=60)
    store.mark_sent(second, "wamid.1")
    assert store.alert_state(alert_id) == "sent"
