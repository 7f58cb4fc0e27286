"""The per-day series behind the panel's charts, on SQLite and on PostgreSQL: known rows at known
local days (Lima, UTC-5), each counted on its producers' day, never on UTC's."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import sqlalchemy as sa
from freezegun import freeze_time

from agrochat.model_output import build_output, canned_output
from agrochat.persistence import AlertStore, Database, Days, MessageStore, ProducerStore, percentile
from tests.schema import alerts

LIMA = zoneinfo.ZoneInfo("America/Lima")
# "Today" for these tests: 15 September in Lima, the series cover the 13th, 14th and 15th.
NOW = "2026-09-15 20:00:00"


def lima(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A September time in Lima, as the naive UTC the database stores."""
    local = dt.datetime(2026, 9, day, hour, minute, second, tzinfo=LIMA)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


@pytest.fixture
def days() -> Days:
    with freeze_time(NOW):
        today = dt.datetime.now(dt.UTC).astimezone(LIMA).date()
    return Days.ending(today, 3, LIMA)


@pytest.fixture
def producers(database: Database) -> dict[str, int]:
    store = ProducerStore(database)
    ids = {}
    for name, created in (("rosa", lima(13, 8)), ("pedro", lima(15, 23, 30)), ("old", lima(10, 9))):
        producer, _ = store.get_or_create(f"5191{len(ids)}000000", now=created)
        ids[name] = producer.id
    return ids


def ask(
    database: Database, producer_id: int, at: dt.datetime, output: dict, after_s: float
) -> None:
    """A question and the assistant's reply ``after_s`` seconds later."""
    store = MessageStore(database)
    inbound = store.add_inbound(producer_id, "¿Cuándo riego?", now=at)
    store.record_reply(
        inbound.id,
        output["respuesta_chat"],
        status="answered",
        role=output["role"],
        model_output=output,
        now=at + dt.timedelta(seconds=after_s),
    )


VETTED = build_output(role="consulta", text="Riega cada 7 días.", answered=True, knowledge=[1])
ESCALATED = build_output(role="consulta", text="Te llamará un técnico.", escalate=True)
UNANSWERED = canned_output("consulta", 'No tengo información verificada. "respondida": true')
GREETING = build_output(role="saludo", text="¡Hola!")


@pytest.fixture
def conversation(database: Database, producers: dict[str, int]) -> None:
    rosa, pedro = producers["rosa"], producers["pedro"]
    ask(database, rosa, lima(12, 23, 59), VETTED, 5)  # the day before the series
    ask(database, rosa, lima(13, 8), VETTED, 4)
    ask(database, rosa, lima(15, 10), ESCALATED, 10)
    ask(database, rosa, lima(15, 11), GREETING, 30)
    # 23:30 in Lima is 04:30 UTC on the 16th: still the 15th for the producers.
    ask(database, pedro, lima(15, 23, 30), UNANSWERED, 60)
    MessageStore(database).add_outbound(
        rosa, "Soy Ana, del equipo.", author="admin:ana", now=lima(15, 12)
    )


def test_messages_in_and_out_are_counted_on_the_producers_day(
    database: Database, days: Days, conversation: None
) -> None:
    assert MessageStore(database).daily_traffic(days) == {"in": [1, 0, 3], "out": [1, 0, 4]}


def test_answers_to_questions_are_split_into_vetted_unanswered_and_escalated(
    database: Database, days: Days, conversation: None
) -> None:
    # The greeting is no question and the admin's message no answer of the assistant's; the
    # producer's words quoting '"respondida": true' do not make an answer vetted.
    assert MessageStore(database).daily_outcomes(days) == {
        "vetted": [1, 0, 0],
        "unanswered": [0, 0, 1],
        "escalated": [0, 0, 1],
    }


def test_reply_latency_percentiles_are_per_day_of_the_question(
    database: Database, days: Days, conversation: None
) -> None:
    latency = MessageStore(database).daily_latency(days)
    assert latency == {"p50": [4.0, None, 30.0], "p95": [4.0, None, 60.0]}


def test_a_later_reply_to_the_same_message_does_not_count_as_its_latency(
    database: Database, days: Days, producers: dict[str, int]
) -> None:
    store = MessageStore(database)
    inbound = store.add_inbound(producers["rosa"], "¿Qué echo a la papa?", now=lima(14, 9))
    store.record_reply(inbound.id, "Un momento…", status="received", now=lima(14, 9, 0, 2))
    store.record_reply(inbound.id, "Abono NPK.", status="answered", now=lima(14, 9, 0, 40))
    assert store.daily_latency(days)["p50"] == [None, 2.0, None]


def test_new_and_active_producers_are_counted_per_day(
    database: Database, days: Days, conversation: None, producers: dict[str, int]
) -> None:
    store = ProducerStore(database)
    assert store.daily_new(days) == [1, 0, 1]
    # Rosa wrote three times on the 15th: one active producer, with Pedro two.
    assert store.daily_active(days) == [1, 0, 2]


def test_alerts_are_counted_sent_failed_and_waiting(
    database: Database, days: Days, producers: dict[str, int]
) -> None:
    store = AlertStore(database)

    def alert(status: str, scheduled: dt.datetime, sent: dt.datetime | None = None) -> None:
        alert_id = store.create(
            phone="51910000000",
            message="Helada esta noche",
            level="alta",
            source="admin",
            scheduled_at=scheduled,
            now=scheduled,
        )
        with database.tx() as conn:
            conn.execute(
                alerts.update().where(alerts.c.id == alert_id).values(status=status, sent_at=sent)
            )

    alert("sent", lima(13, 22), sent=lima(14, 6))  # counted on the day it went out
    alert("expired", lima(13, 7))
    alert("failed", lima(15, 9))
    alert("pending", lima(15, 23, 45))
    alert("sending", lima(15, 18))
    alert("cancelled", lima(15, 9))
    alert("pending", lima(16, 8))  # tomorrow's
    assert store.daily_deliveries(days) == {
        "sent": [0, 1, 0],
        "failed": [1, 0, 1],
        "waiting": [0, 0, 2],
    }


def test_empty_database_gives_a_zero_or_empty_value_for_every_day(
    database: Database, days: Days
) -> None:
    assert MessageStore(database).daily_traffic(days) == {"in": [0, 0, 0], "out": [0, 0, 0]}
    assert MessageStore(database).daily_latency(days) == {"p50": [None] * 3, "p95": [None] * 3}
    assert ProducerStore(database).daily_active(days) == [0, 0, 0]
    assert AlertStore(database).daily_deliveries(days)["waiting"] == [0, 0, 0]


def test_ninety_days_group_in_one_query_on_both_databases(
    database: Database, producers: dict[str, int]
) -> None:
    with freeze_time(NOW):
        today = dt.datetime.now(dt.UTC).astimezone(LIMA).date()
    days = Days.ending(today, 90, LIMA)
    assert len(days) == 90
    assert ProducerStore(database).daily_new(days)[-3:] == [1, 0, 1]
    assert ProducerStore(database).daily_new(days)[-6] == 1


def test_days_follow_daylight_saving_where_the_zone_has_it() -> None:
    # Santiago de Chile moved its clocks forward on 6 September 2026: that day is 23 hours.
    santiago = zoneinfo.ZoneInfo("America/Santiago")
    days = Days.ending(dt.date(2026, 9, 7), 3, santiago)
    lengths = [(b - a) for a, b in zip(days.bounds, days.bounds[1:], strict=False)]
    assert sorted(lengths) == [dt.timedelta(hours=23), *[dt.timedelta(hours=24)] * 2]
    assert days.of(days.bounds[1]) == 1
    assert days.of(days.bounds[-1]) is None
    assert days.of(days.bounds[0] - dt.timedelta(microseconds=1)) is None


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([float(n) for n in range(1, 21)], 95) == 19.0


def test_the_series_select_nothing_outside_their_days(database: Database) -> None:
    days = Days.ending(dt.date(2026, 9, 15), 1, LIMA)
    assert days.bounds == (lima(15, 0), lima(16, 0))
    with database.tx() as conn:
        assert conn.execute(sa.select(days.index(sa.literal(lima(15, 1))))).scalar() == 0
