"""Daily rules: crop stage from fecha_siembra and irrigation from ultimo_riego, idempotent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from freezegun import freeze_time

from agrochat.actors.alerts import AlertDispatcher, RuleBook, RuleError
from agrochat.persistence import AlertStore, Database
from tests.alerts._data import add_producer, set_field

SOWN = "2026-01-01"


def _rule_alerts(store: AlertStore) -> list[tuple[str, str]]:
    return sorted((a.rule_key or "", a.message) for a in store.recent(limit=1000) if a.rule_key)


def test_packaged_rules_load_and_name_stages_by_days_after_sowing() -> None:
    book = RuleBook.load()
    papa = book.crop("Papa")
    assert papa is not None and book.crop("  PAPAS ") is papa
    assert book.crop("maíz") is book.crop("Maiz")
    assert papa.stage_on(-1) is None
    assert papa.stage_on(0).name == "emergencia"  # type: ignore[union-attr]
    assert papa.stage_on(29).name == "emergencia"  # type: ignore[union-attr]
    assert papa.stage_on(30).name == "desarrollo de tallos"  # type: ignore[union-attr]
    assert papa.stage_on(papa.cycle_days) is None


def test_crop_stage_reminder_is_created_once_per_stage(database: Database) -> None:
    pid = add_producer(database, "51987654321", fields={"cultivo": "papa", "fecha_siembra": SOWN})
    store = AlertStore(database)
    dispatcher = AlertDispatcher(store, deliver=False, rules=RuleBook.load())
    with freeze_time("2026-01-30 13:00:00") as clock:  # day 29: emergencia
        assert dispatcher.run_rules() == 1
        assert dispatcher.run_rules() == 0  # the same day again
        clock.tick(dt.timedelta(days=1))  # day 30: a new stage
        assert dispatcher.run_rules() == 1
        clock.tick(dt.timedelta(days=1))  # day 31: same stage
        assert dispatcher.run_rules() == 0
    keys = [k for k, _ in _rule_alerts(store)]
    assert keys == [
        f"etapa:{pid}:papa:{SOWN}:desarrollo de tallos",
        f"etapa:{pid}:papa:{SOWN}:emergencia",
    ]
    messages = [m for _, m in _rule_alerts(store)]
    assert "30 días" in messages[0] and "aporque" in messages[0]


def test_rule_alerts_are_scheduled_for_the_send_time_and_expire_a_day_later(
    database: Database,
) -> None:
    add_producer(database, "51987654321", fields={"cultivo": "maíz", "fecha_siembra": SOWN})
    store = AlertStore(database)
    dispatcher = AlertDispatcher(store, deliver=False, rules=RuleBook.load())
    with freeze_time("2026-01-10 06:00:00"):
        dispatcher.run_rules()
        assert store.pending_due() == []  # 06:00 UTC is 01:00 in Peru: not now
    with freeze_time("2026-01-10 12:00:00"):
        (alert,) = store.pending_due()
    assert alert.source == "rule" and alert.level == "baja"
    assert alert.scheduled_at == dt.datetime(2026, 1, 10, 12, 0)
    assert alert.expires_at == dt.datetime(2026, 1, 11, 12, 0)


def test_irrigation_reminder_comes_each_full_interval_without_watering(database: Database) -> None:
    pid = add_producer(
        database, "51987654321", fields={"cultivo": "papa", "ultimo_riego": "2026-02-01"}
    )
    store = AlertStore(database)
    dispatcher = AlertDispatcher(store, deliver=False, rules=RuleBook.load())
    with freeze_time("2026-02-07 12:00:00") as clock:  # 6 days: papa waits 7
        assert dispatcher.run_rules() == 0
        clock.tick(dt.timedelta(days=1))
        assert dispatcher.run_rules() == 1
        clock.tick(dt.timedelta(days=6))  # 13 days: still the first interval
        assert dispatcher.run_rules() == 0
        clock.tick(dt.timedelta(days=1))  # 14 days: the second full interval
        assert dispatcher.run_rules() == 1
        # The producer watered: the count starts again from the new date.
        set_field(database, pid, "ultimo_riego", "2026-02-15")
        assert dispatcher.run_rules() == 0
    keys = [k for k, _ in _rule_alerts(store)]
    assert keys == [f"riego:{pid}:papa:2026-02-01:1", f"riego:{pid}:papa:2026-02-01:2"]


def test_no_reminders_for_unknown_crops_bad_dates_or_a_finished_season(database: Database) -> None:
    add_producer(database, "51900000001", fields={"cultivo": "palta", "fecha_siembra": SOWN})
    add_producer(database, "51900000002", fields={"cultivo": "papa", "fecha_siembra": "15/01/2026"})
    add_producer(
        database,
        "51900000003",
        fields={"cultivo": "papa", "fecha_siembra": "2025-01-01", "ultimo_riego": "2025-06-01"},
    )
    add_producer(
        database,
        "51900000004",
        fields={"cultivo": "papa", "fecha_siembra": SOWN},
        status="inactivo",
    )
    dispatcher = AlertDispatcher(AlertStore(database), deliver=False, rules=RuleBook.load())
    with freeze_time("2026-01-20 12:00:00"):
        assert dispatcher.run_rules() == 0


def test_tick_runs_rules_even_without_a_gateway(database: Database) -> None:
    add_producer(database, "51987654321", fields={"cultivo": "quinua", "fecha_siembra": SOWN})
    store = AlertStore(database)
    dispatcher = AlertDispatcher(store, deliver=False, rules=RuleBook.load())
    with freeze_time("2026-01-05 12:00:00") as clock:
        assert dispatcher.tick().created == 1
        clock.tick(10)
        assert dispatcher.tick().created == 0  # ran this hour already
    assert len(store.pending_due(now=dt.datetime(2026, 1, 5, 12, 1))) == 1


@pytest.mark.parametrize(
    ("crops", "error"),
    [
        ({"papa": {"cycle_days": 0}}, "cycle_days"),
        (
            {
                "papa": {
                    "cycle_days": 90,
                    "stages": [{"name": "x", "from_day": 0, "message": "{nope}"}],
                }
            },
            "placeholder",
        ),
        (
            {
                "papa": {
                    "cycle_days": 90,
                    "stages": [{"name": "x", "from_day": 0, "level": "urgente", "message": "m"}],
                }
            },
            "level",
        ),
        (
            {"papa": {"cycle_days": 90, "irrigation": {"interval_days": -1, "message": "m"}}},
            "interval_days",
        ),
    ],
)
def test_bad_rule_files_are_refused_with_the_place_named(
    tmp_path: Path, crops: dict, error: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"crops": crops}))
    with pytest.raises(RuleError, match=error) as info:
        RuleBook.load([path])
    assert "bad.json" in str(info.value)
