"""Cancelling an alert stops it (issue 12, item 10), wherever it is between the claim and the
transport: before it is handed on, when its outbox row is written, while the row waits, right
before the send; and no report after the cancel turns it into ``sent``. Both databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from freezegun import freeze_time

from agrochat.actors.alerts import AlertDispatcher
from agrochat.actors.whatsapp import Channels, OutboxSender
from agrochat.persistence import Alert, AlertStore, Database, OutboxMessage, OutboxStore
from tests.alerts._data import add_producer
from tests.alerts._fakes import RecordingTransport

T0 = dt.datetime(2026, 3, 2, 15, 0, 0)
PHONE = "51987654321"


def _claimed(db: Database) -> tuple[AlertStore, AlertDispatcher, int]:
    """An alert claimed by the scheduler and handed on to the producer's session."""
    add_producer(db, PHONE, last_inbound_at=T0)
    store = AlertStore(db)
    dispatcher = AlertDispatcher(store, deliver=True, claimed_by="p1")
    alert_id = store.create(phone=PHONE, message="Alerta de helada", level="alta", source="api")
    assert [p.alert_id for p in dispatcher.tick().pushes] == [alert_id]
    return store, dispatcher, alert_id


def _status(store: AlertStore, alert_id: int) -> str:
    alert = store.get(alert_id)
    assert alert is not None
    return alert.status


def test_cancelling_a_claimed_alert_cancels_its_waiting_outbox_row(database: Database) -> None:
    with freeze_time(T0):
        store, _, alert_id = _claimed(database)
        outbox = OutboxStore(database)
        row = outbox.enqueue(PHONE, "Alerta de helada", alert_id=alert_id)
        assert store.cancel(alert_id)
        assert [(r.id, r.status) for r in outbox.for_alert(alert_id)] == [(row, "cancelled")]
        assert outbox.claim(10, lease_s=60) == []
        assert _status(store, alert_id) == "cancelled"


def test_a_cancelled_alert_gets_no_outbox_row_when_its_session_takes_it_late(
    database: Database,
) -> None:
    with freeze_time(T0):
        store, _, alert_id = _claimed(database)
        assert store.cancel(alert_id)
        outbox = OutboxStore(database)
        assert outbox.enqueue(PHONE, "Alerta de helada", alert_id=alert_id) is None
        assert outbox.for_alert(alert_id) == []


class CancelledAfterClaim(AlertStore):
    """The admin cancels in the panel right after the scheduler's claim."""

    def claim_due(self, **kwargs: Any) -> list[Alert]:
        claimed = super().claim_due(**kwargs)
        for alert in claimed:
            assert self.cancel(alert.id)
        return claimed


def test_an_alert_cancelled_between_claim_and_hand_on_is_not_handed_on(
    database: Database,
) -> None:
    with freeze_time(T0):
        add_producer(database, PHONE, last_inbound_at=T0)
        store = CancelledAfterClaim(database)
        alert_id = store.create(phone=PHONE, message="Helada", level="alta", source="api")
        report = AlertDispatcher(store, deliver=True, claimed_by="p1").tick()
        assert report.pushes == [] and report.cancelled == 1
        alert = store.get(alert_id)
        assert alert is not None and (alert.status, alert.attempts) == ("cancelled", 0)


class CancelledAfterRowClaim(OutboxStore):
    """The admin cancels after the sender claimed the row, before the transport is called."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.alerts = AlertStore(db)

    def claim_one(self, outbox_id: int, lease_s: float, now: Any = None) -> OutboxMessage | None:
        row = super().claim_one(outbox_id, lease_s, now=now)
        if row is not None and row.alert_id is not None:
            assert self.alerts.cancel(row.alert_id)
        return row


def test_an_alert_cancelled_after_its_row_was_claimed_is_not_sent(database: Database) -> None:
    with freeze_time(T0):
        store, _, alert_id = _claimed(database)
        outbox = CancelledAfterRowClaim(database)
        row = outbox.enqueue(PHONE, "Alerta de helada", alert_id=alert_id)
        assert row is not None
        transport = RecordingTransport()
        sender = OutboxSender(outbox, Channels.single(transport), alerts=store)
        assert sender.send(row) is None
        assert transport.sent == []
        assert _status(store, alert_id) == "cancelled"
        sent_row = outbox.get(row)
        assert sent_row is not None and sent_row.status == "cancelled"


class CancellingTransport(RecordingTransport):
    """The admin cancels while the gateway is taking the message."""

    def __init__(self, store: AlertStore, alert_id: int) -> None:
        super().__init__()
        self.store, self.alert_id = store, alert_id

    def send(self, phone: str, text: str, *, template: str | None = None) -> str | None:
        assert self.store.cancel(self.alert_id)
        return super().send(phone, text, template=template)


def test_a_send_under_way_when_the_alert_is_cancelled_does_not_make_it_sent(
    database: Database,
) -> None:
    with freeze_time(T0):
        store, _, alert_id = _claimed(database)
        outbox = OutboxStore(database)
        row = outbox.enqueue(PHONE, "Alerta de helada", alert_id=alert_id)
        assert row is not None
        sender = OutboxSender(outbox, Channels.single(CancellingTransport(store, alert_id)))
        # Nothing is reported to the scheduler: the alert is settled as cancelled.
        assert sender.send(row) is None
        sent_row = outbox.get(row)
        assert sent_row is not None
        assert (sent_row.status, sent_row.gateway_message_id) == ("cancelled", "gw_1")
        assert _status(store, alert_id) == "cancelled"


def test_a_delivery_report_after_the_cancel_leaves_the_alert_cancelled(
    database: Database,
) -> None:
    with freeze_time(T0):
        store, dispatcher, alert_id = _claimed(database)
        assert store.cancel(alert_id)
        dispatcher.delivered(alert_id)  # a report already on its way
        assert store.mark_sent(alert_id) is False  # the seed's bridge: POST /alerts/<id>/sent
        assert _status(store, alert_id) == "cancelled"
