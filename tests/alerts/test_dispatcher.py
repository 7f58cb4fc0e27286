"""AlertDispatcher: each time rule (schedule, lease, backoff, expiry, 24 h window), frozen."""

from __future__ import annotations

import datetime as dt

from freezegun import freeze_time

from agrochat.actors.alerts import AlertDispatcher, backoff
from agrochat.persistence import AlertStore, Database, OutboxStore
from tests.alerts._data import add_producer, set_last_inbound

T0 = dt.datetime(2026, 3, 2, 15, 0, 0)
PHONE = "51987654321"


def _setup(
    db: Database, *, inbound: dt.datetime | None = T0, **kwargs
) -> tuple[AlertStore, AlertDispatcher, int]:
    pid = add_producer(db, PHONE, last_inbound_at=inbound)
    store = AlertStore(db)
    kwargs.setdefault("deliver", True)
    return store, AlertDispatcher(store, claimed_by="p1", **kwargs), pid


def _alert(store: AlertStore, **kwargs) -> int:
    args = {"phone": PHONE, "message": "Alerta de helada", "level": "alta", "source": "api"}
    args.update(kwargs)
    return store.create(**args)


def test_due_alert_is_pushed_once_and_marked_sent_on_delivery(database: Database) -> None:
    with freeze_time(T0):
        store, dispatcher, _ = _setup(database)
        alert_id = _alert(store)
        report = dispatcher.tick()
        assert [(p.alert_id, p.phone, p.text, p.delivery) for p in report.pushes] == [
            (alert_id, PHONE, "Alerta de helada", "text")
        ]
        assert dispatcher.tick().pushes == []
        dispatcher.delivered(alert_id)
    alert = store.get(alert_id)
    assert alert is not None
    assert (alert.status, alert.attempts, alert.delivery, alert.sent_at) == ("sent", 1, "text", T0)


def test_scheduled_alert_waits_for_its_time(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database)
        alert_id = _alert(store, scheduled_at=T0 + dt.timedelta(minutes=5))
        assert dispatcher.tick().pushes == []
        clock.tick(dt.timedelta(minutes=4, seconds=59))
        assert dispatcher.tick().pushes == []
        clock.tick(1)
        assert [p.alert_id for p in dispatcher.tick().pushes] == [alert_id]


def test_stale_alert_expires_instead_of_going_out(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database, deliver=False)
        alert_id = _alert(store, expires_at=T0 + dt.timedelta(hours=1))
        clock.tick(dt.timedelta(hours=1))
        report = dispatcher.tick()
    assert report.expired == 1
    assert store.get(alert_id).status == "expired"  # type: ignore[union-attr]
    assert store.pending_due(now=T0) == []


def test_failed_delivery_is_retried_with_exponential_backoff(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database, max_attempts=5)
        alert_id = _alert(store)
        for attempt in (1, 2, 3):
            assert [p.alert_id for p in dispatcher.tick().pushes] == [alert_id]
            assert dispatcher.delivery_failed(alert_id, "gateway down", retryable=True) == "pending"
            wait = backoff(attempt)
            assert wait == dt.timedelta(seconds=30 * 2 ** (attempt - 1))
            clock.tick(wait - dt.timedelta(seconds=1))
            assert dispatcher.tick().pushes == [], f"retried before backoff after attempt {attempt}"
            clock.tick(dt.timedelta(seconds=1))
        alert = store.get(alert_id)
        assert alert is not None and (alert.attempts, alert.last_error) == (3, "gateway down")


def test_alert_fails_for_good_after_max_attempts(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database, max_attempts=2)
        alert_id = _alert(store)
        dispatcher.tick()
        assert dispatcher.delivery_failed(alert_id, "boom", retryable=True) == "pending"
        clock.tick(backoff(1))
        assert len(dispatcher.tick().pushes) == 1
        assert dispatcher.delivery_failed(alert_id, "boom", retryable=True) == "failed"
        clock.tick(dt.timedelta(hours=2))
        assert dispatcher.tick().pushes == []
    assert store.get(alert_id).status == "failed"  # type: ignore[union-attr]


def test_permanent_failure_is_not_retried(database: Database) -> None:
    with freeze_time(T0):
        store, dispatcher, _ = _setup(database)
        alert_id = _alert(store)
        dispatcher.tick()
        assert dispatcher.delivery_failed(alert_id, "not on WhatsApp", retryable=False) == "failed"


def test_late_failure_report_does_not_undo_a_delivery(database: Database) -> None:
    with freeze_time(T0):
        store, dispatcher, _ = _setup(database)
        alert_id = _alert(store)
        dispatcher.tick()
        dispatcher.delivered(alert_id)
        assert dispatcher.delivery_failed(alert_id, "late", retryable=True) is None
    assert store.get(alert_id).status == "sent"  # type: ignore[union-attr]


def test_alert_claimed_by_a_dead_scheduler_is_taken_over_when_its_lease_runs_out(
    database: Database,
) -> None:
    with freeze_time(T0) as clock:
        store, dead, _ = _setup(database, lease_s=300)
        alive = AlertDispatcher(store, deliver=True, claimed_by="p2", lease_s=300)
        alert_id = _alert(store)
        assert len(dead.tick().pushes) == 1  # ...and the push was lost with the process
        clock.tick(299)
        assert alive.tick().pushes == []
        clock.tick(1)
        assert [p.alert_id for p in alive.tick().pushes] == [alert_id]
    assert store.get(alert_id).claimed_by == "p2"  # type: ignore[union-attr]


def test_lapsed_claim_whose_outbox_row_waits_is_not_pushed_again(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database, lease_s=60)
        alert_id = _alert(store)
        dispatcher.tick()
        OutboxStore(database).enqueue(PHONE, "Alerta de helada", alert_id=alert_id)
        clock.tick(61)
        report = dispatcher.tick()
        assert (report.pushes, report.in_flight) == ([], 1)
    assert store.get(alert_id).status == "sending"  # type: ignore[union-attr]


def test_lapsed_claim_whose_outbox_row_was_sent_is_settled_as_sent(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database, lease_s=60)
        alert_id = _alert(store)
        dispatcher.tick()
        outbox = OutboxStore(database)
        oid = outbox.enqueue(PHONE, "Alerta de helada", alert_id=alert_id)
        outbox.claim_one(oid, 60)
        outbox.mark_sent(oid, "gw1")  # ...and the Delivered report was lost
        clock.tick(61)
        report = dispatcher.tick()
        assert (report.pushes, report.settled) == ([], 1)
    assert store.get(alert_id).status == "sent"  # type: ignore[union-attr]


def test_outside_the_24h_window_an_alert_waits_without_a_template(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, pid = _setup(database, inbound=T0 - dt.timedelta(hours=24, seconds=1))
        alert_id = _alert(store)
        report = dispatcher.tick()
        assert (report.pushes, report.waiting) == ([], 1)
        assert store.get(alert_id).delivery == "waiting"  # type: ignore[union-attr]
        # The producer writes: the window opens and the alert goes out as text.
        clock.tick(60)
        set_last_inbound(database, pid, clock())  # type: ignore[operator]
        assert [(p.alert_id, p.delivery) for p in dispatcher.tick().pushes] == [(alert_id, "text")]
    assert store.get(alert_id).delivery == "text"  # type: ignore[union-attr]


def test_inside_the_24h_window_an_alert_goes_out_as_text(database: Database) -> None:
    with freeze_time(T0):
        store, dispatcher, _ = _setup(
            database, inbound=T0 - dt.timedelta(hours=23, minutes=59), template="alerta_agro"
        )
        _alert(store)
        assert [p.delivery for p in dispatcher.tick().pushes] == ["text"]


def test_outside_the_24h_window_an_alert_goes_out_as_the_template(database: Database) -> None:
    with freeze_time(T0):
        store, dispatcher, _ = _setup(database, inbound=None, template="alerta_agro")
        alert_id = _alert(store)
        assert [(p.alert_id, p.delivery) for p in dispatcher.tick().pushes] == [
            (alert_id, "template")
        ]
    assert store.get(alert_id).delivery == "template"  # type: ignore[union-attr]


def test_without_a_gateway_alerts_stay_pending_for_pollers(database: Database) -> None:
    with freeze_time(T0):
        store, dispatcher, _ = _setup(database, deliver=False)
        alert_id = _alert(store)
        assert dispatcher.tick().pushes == []
        assert [a.id for a in store.pending_due()] == [alert_id]


def test_lapsed_claim_outside_the_window_is_still_settled_from_the_outbox(
    database: Database,
) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database, lease_s=60)
        alert_id = _alert(store)
        dispatcher.tick()
        outbox = OutboxStore(database)
        oid = outbox.enqueue(PHONE, "Alerta de helada", alert_id=alert_id)
        outbox.claim_one(oid, 60)
        outbox.mark_sent(oid, "gw1")  # ...and the Delivered report was lost
        clock.tick(dt.timedelta(hours=25))  # the window has closed meanwhile
        assert dispatcher.tick().settled == 1
    assert store.get(alert_id).status == "sent"  # type: ignore[union-attr]


def test_an_alert_whose_outbox_row_was_sent_is_not_expired(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database, lease_s=60)
        alert_id = _alert(store, expires_at=T0 + dt.timedelta(minutes=30))
        dispatcher.tick()
        outbox = OutboxStore(database)
        oid = outbox.enqueue(PHONE, "Alerta de helada", alert_id=alert_id)
        outbox.claim_one(oid, 60)
        outbox.mark_sent(oid, "gw1")
        clock.tick(dt.timedelta(hours=1))
        report = dispatcher.tick()
        assert (report.expired, report.settled) == (0, 1)
    assert store.get(alert_id).status == "sent"  # type: ignore[union-attr]


def test_a_lapsed_claim_with_nothing_in_the_outbox_expires(database: Database) -> None:
    with freeze_time(T0) as clock:
        store, dispatcher, _ = _setup(database, lease_s=60)
        alert_id = _alert(store, expires_at=T0 + dt.timedelta(minutes=30))
        dispatcher.tick()  # pushed, then lost with the process
        clock.tick(dt.timedelta(hours=1))
        assert dispatcher.tick().expired == 1
    assert store.get(alert_id).status == "expired"  # type: ignore[union-attr]
