"""The panel on a phone's screen (390 CSS pixels, as an iPhone 14), in headless Chromium: no page
scrolls sideways, tables read as lists (each cell with its column's name), and what a thumb taps
is at least 44 px tall (Apple's and WCAG 2.5.5's target size), forms as wide as the screen.

Every page the navigation reaches is walked (a page added to the nav later is walked too), plus
the pages one level down. Screenshots of each go to ``artifacts/`` (ignored by git), at 390 px
and, for comparison, at 1280 px.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from agrochat.persistence import AlertStore, KnowledgeStore, MessageStore, ProducerStore
from tests.admin._chromium import ARTIFACTS, chromium, emulate, full_page_png, log_in
from tests.admin.conftest import Panel

PHONE = (390, 844)
DESKTOP = (1280, 900)
# What a thumb taps; a checkbox is tapped through its label, which is measured instead.
TARGETS = (
    "main a, .topbar a, button, select, textarea, "
    "input:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
    "label[for]:has(+ input[type=checkbox]), input[type=checkbox] + label"
)
FIELDS = (
    "main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
    "main select, main textarea"
)

MEASURE = """
const targets = [...document.querySelectorAll(arguments[0])]
  .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
  .filter(e => !e.closest('thead'));
const small = targets
  .map(e => [e.outerHTML.slice(0, 90), Math.round(e.getBoundingClientRect().height)])
  .filter(([, h]) => h < 44);
const narrow = [...document.querySelectorAll(arguments[1])]
  .filter(e => e.getClientRects().length)
  .map(e => [e.outerHTML.slice(0, 90), Math.round(e.getBoundingClientRect().width)])
  .filter(([, w]) => w < window.innerWidth * 0.75);
const cells = [...document.querySelectorAll('table.table td')];
return {
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  small: small,
  narrow: narrow,
  unlabelled: cells.filter(td => !td.hasAttribute('data-label'))
    .map(td => td.outerHTML.slice(0, 90)),
  rowsAsTable: [...document.querySelectorAll('table.table tr')]
    .filter(tr => getComputedStyle(tr).display === 'table-row').length,
  labels: cells.slice(0, 3).map(td => getComputedStyle(td, '::before').content),
};
"""


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    yield from chromium(tmp_path)


@pytest.fixture
def seeded(panel: Panel) -> dict[str, int]:
    """A programme with something on every page: long names and messages, flagged producers,
    alerts in several states, a conversation."""
    store = ProducerStore(panel.db)
    messages, alerts = MessageStore(panel.db), AlertStore(panel.db)
    ids = []
    for i, (name, crop, district) in enumerate(
        (
            ("María Fernanda Huamaní Quispe de los Ríos", "maíz amiláceo", "San Jerónimo de Tunán"),
            ("Pedro Mamani", "papa", "Jauja"),
            ("Rosa Quispe", "café", "Pichanaqui"),
        )
    ):
        producer, _ = store.get_or_create(f"5198765432{i}")
        store.set_fields(
            producer.id,
            {"nombre": name, "cultivo": crop, "distrito": district, "area_ha": "1.5"},
            source="model",
        )
        store.update(producer.id, name=name, status="activo", needs_human=i == 0)
        question = messages.add_inbound(
            producer.id,
            "¿Cuándo debo regar el maíz si ya salieron las hojas y la tierra está seca? "
            "https://example.org/una/direccion/muy/larga/que/no/se/corta/nunca/sola",
        )
        messages.record_reply(
            question.id, "Riega cuando el suelo esté seco a 15 cm.", status="failed"
        )
        alert = alerts.create(
            phone=producer.phone,
            message="Helada esta noche en las partes altas: riega ligero por la tarde y cubre "
            "los almácigos con paja o plástico.",
            level=("alta", "media", "baja")[i],
            source="admin",
        )
        if i == 1:
            alerts.mark_sent(alert)
        ids.append(producer.id)
    entry = KnowledgeStore(panel.db).add(
        title="Riego del maíz en floración", answer="Riega cada 7 días.", body="Riega cada 7 días."
    )
    return {"producer": ids[0], "entry": entry}


def pages_from_nav(driver: Any) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    found = {}
    for link in driver.find_elements(By.CSS_SELECTOR, ".topbar a[href]"):
        path = urlparse(link.get_attribute("href")).path
        name = "dashboard" if path == "/admin" else path.rsplit("/", 1)[-1]
        found[name] = path
    return found


def test_no_panel_page_scrolls_sideways_on_a_phone_and_tables_read_as_lists(
    panel: Panel, seeded: dict[str, int], driver: Any
) -> None:
    emulate(driver, *PHONE, mobile=True)
    driver.get(f"{panel.url}/admin/login")
    report = driver.execute_script(MEASURE, TARGETS, FIELDS)
    assert report["scrollWidth"] <= report["innerWidth"] == PHONE[0]
    full_page_png(driver, ARTIFACTS / "layout-login-390.png")
    log_in(driver, panel.url)

    pages = pages_from_nav(driver)
    assert {"dashboard", "producers", "alerts", "knowledge", "audit", "account"} <= set(pages)
    pages |= {
        "producer": f"/admin/producers/{seeded['producer']}",
        "alert_new": "/admin/alerts/new",
        "knowledge_entry": f"/admin/knowledge/{seeded['entry']}",
        "not_found": "/admin/no-such-page",
    }
    problems = {}
    sideways = []
    for name, path in pages.items():
        driver.get(panel.url + path)
        report = driver.execute_script(MEASURE, TARGETS, FIELDS)
        full_page_png(driver, ARTIFACTS / f"layout-{name}-390.png")
        # A phone zooms a page that is too wide out until it fits: window.innerWidth grows to
        # the page's width. Either way the page is wider than the screen.
        if max(report["scrollWidth"], report["innerWidth"]) > PHONE[0]:
            sideways.append((name, report["scrollWidth"], report["innerWidth"]))
        found = {
            "targets under 44 px": report["small"],
            "fields narrower than the screen": report["narrow"],
            "cells without data-label": report["unlabelled"],
            "rows still laid out as a table": report["rowsAsTable"],
        }
        if name in ("producers", "alerts"):
            expected = {"producers": ['"Productor"', '"Teléfono"'], "alerts": ['"#"', '"Para"']}
            if report["labels"][:2] != expected[name]:
                found["cells labelled"] = report["labels"]
        found = {k: v for k, v in found.items() if v}
        if found:
            problems[name] = found
    assert sideways == []
    assert not problems, problems


@pytest.mark.parametrize("width", [768, DESKTOP[0]])
def test_wider_screens_keep_their_tables_and_do_not_scroll_sideways(
    panel: Panel, seeded: dict[str, int], driver: Any, width: int
) -> None:
    emulate(driver, width, DESKTOP[1], mobile=False)
    log_in(driver, panel.url)
    for name, path in (
        ("dashboard", "/admin"),
        ("producers", "/admin/producers"),
        ("producer", f"/admin/producers/{seeded['producer']}"),
        ("alerts", "/admin/alerts"),
    ):
        driver.get(panel.url + path)
        report = driver.execute_script(MEASURE, TARGETS, FIELDS)
        full_page_png(driver, ARTIFACTS / f"layout-{name}-{width}.png")
        assert report["scrollWidth"] <= report["innerWidth"] == width, name
        if name in ("producers", "alerts"):
            assert report["rowsAsTable"] > 0, name
