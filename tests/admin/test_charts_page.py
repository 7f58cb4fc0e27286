"""The dashboard's trends, through the real server: the charts for 14, 30 or 90 days and their
numbers as tables, on the producers' days (Lima)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zoneinfo
from collections.abc import Iterator

import pytest
from freezegun import freeze_time

from agrochat.model_output import build_output
from agrochat.persistence import AlertStore, MessageStore, ProducerStore
from tests.admin.conftest import Browser, Panel

LIMA = zoneinfo.ZoneInfo("America/Lima")


def lima(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    local = dt.datetime(2026, 9, day, hour, minute, second, tzinfo=LIMA)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


@pytest.fixture
def today() -> Iterator[None]:
    """15 September 2026, 15:00 in Lima; the clock still runs (the server waits on it)."""
    with freeze_time("2026-09-15 20:00:00", tick=True):
        yield


def seed(panel: Panel) -> None:
    producers, messages = ProducerStore(panel.db), MessageStore(panel.db)
    rosa, _ = producers.get_or_create("51911111111", now=lima(14, 8))
    pedro, _ = producers.get_or_create("51922222222", now=lima(15, 9))
    vetted = build_output(role="consulta", text="Riega cada 7 días.", answered=True, knowledge=[1])
    escalated = build_output(role="consulta", text="Te llamará un técnico.", escalate=True)
    for producer, at, output, after_s in (
        (rosa.id, lima(14, 8), vetted, 4),
        (rosa.id, lima(15, 10), vetted, 6),
        (pedro.id, lima(15, 9), escalated, 12),
    ):
        inbound = messages.add_inbound(producer, "¿Cuándo riego?", now=at)
        messages.record_reply(
            inbound.id,
            output["respuesta_chat"],
            status="answered",
            role="consulta",
            model_output=output,
            now=at + dt.timedelta(seconds=after_s),
        )
    alerts = AlertStore(panel.db)
    sent = alerts.create(
        phone="51911111111", message="Helada", level="alta", source="admin", now=lima(15, 6)
    )
    alerts.mark_sent(sent, now=lima(15, 7))


def tables(html: str) -> dict[str, list[list[str]]]:
    """Each chart's table, by its caption: rows of cell texts (the day first)."""
    found = {}
    for caption, body in re.findall(
        r"<caption>(.*?), últimos \d+ días</caption>.*?<tbody>(.*?)</tbody>", html, re.S
    ):
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
        found[caption] = [
            [cell.strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in rows
        ]
    return found


def test_dashboard_shows_fourteen_days_of_charts_with_their_numbers(
    panel: Panel, browser: Browser, today: None
) -> None:
    seed(panel)
    page = browser.get("/admin")
    assert page.status_code == 200
    svgs = re.findall(r"<svg .*?</svg>", page.text, re.S)
    assert len(svgs) == 5
    for svg in svgs:
        ET.fromstring(svg)
    numbers = tables(page.text)
    assert list(numbers) == [
        "Mensajes por día",
        "Respuestas a preguntas",
        "Alertas",
        "Productores",
        "Tiempo de respuesta",
    ]
    assert all(len(rows) == 14 for rows in numbers.values())
    assert numbers["Mensajes por día"][-2:] == [["14/09", "1", "1"], ["15/09", "2", "2"]]
    assert numbers["Respuestas a preguntas"][-1] == [
        "15/09",
        "1 (50 %)",
        "0 (0 %)",
        "1 (50 %)",
        "2",
    ]
    assert numbers["Respuestas a preguntas"][0] == ["02/09", "—", "—", "—", "0"]
    assert numbers["Alertas"][-1] == ["15/09", "1", "0", "0"]
    assert numbers["Productores"][-2:] == [["14/09", "1", "1"], ["15/09", "1", "2"]]
    assert numbers["Tiempo de respuesta"][-2:] == [
        ["14/09", "4.0 s", "4.0 s"],
        ["15/09", "6.0 s", "12.0 s"],
    ]
    assert 'aria-current="page">14 días' in page.text


@pytest.mark.parametrize("days", [30, 90])
def test_the_period_selector_shows_thirty_or_ninety_days(
    panel: Panel, browser: Browser, today: None, days: int
) -> None:
    seed(panel)
    page = browser.get(f"/admin?dias={days}")
    assert page.status_code == 200
    numbers = tables(page.text)
    assert all(len(rows) == days for rows in numbers.values())
    first = (dt.date(2026, 9, 15) - dt.timedelta(days=days - 1)).strftime("%d/%m")
    assert numbers["Mensajes por día"][0][0] == first
    assert f'aria-current="page">{days} días' in page.text


@pytest.mark.parametrize("value", ["7", "abc", "-14", "١٤", "9" * 30])
def test_another_period_is_a_clear_400_page(panel: Panel, browser: Browser, value: str) -> None:
    page = browser.get("/admin", params={"dias": value})
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "14, 30, 90 días" in page.text


def test_an_empty_programme_shows_sin_datos_in_every_chart(
    panel: Panel, browser: Browser, today: None
) -> None:
    page = browser.get("/admin")
    assert page.status_code == 200
    assert page.text.count(">sin datos</text>") == 5
