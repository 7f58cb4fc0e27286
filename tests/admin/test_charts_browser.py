"""The dashboard's charts in a real browser (headless chromium) at a desktop's 1280 px and a
phone's 390 px: every chart drawn and inside the page, no sideways scrolling on the phone.

Screenshots of the whole page go to ``artifacts/`` at the repository's root (ignored by git),
for a person to look at: ``dashboard-1280.png`` and ``dashboard-390.png``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from agrochat.model_output import build_output
from agrochat.persistence import AlertStore, MessageStore, ProducerStore, utcnow
from tests.admin.conftest import ADMIN, PASSWORD, Panel

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# A tall page is captured whole, up to this height.
MAX_SHOT_HEIGHT = 8000


def seed(panel: Panel) -> None:
    """Two weeks of a small programme: a few producers writing most days, some answers vetted,
    some not, an escalation, alerts sent and failed."""
    producers, messages, alerts = (
        ProducerStore(panel.db),
        MessageStore(panel.db),
        AlertStore(panel.db),
    )
    now = utcnow()
    vetted = build_output(role="consulta", text="Riega cada 7 días.", answered=True, knowledge=[1])
    unanswered = build_output(role="consulta", text="No tengo información verificada.")
    escalated = build_output(role="consulta", text="Te llamará un técnico.", escalate=True)
    for p in range(6):
        producer, _ = producers.get_or_create(
            f"519100000{p:02d}", now=now - dt.timedelta(days=13 - 2 * p)
        )
        for day in range(13 - 2 * p, -1, -1):
            if (day + p) % 3 == 0:
                continue
            at = now - dt.timedelta(days=day, hours=p)
            output = (vetted, unanswered, escalated)[0 if (day + p) % 4 else 1 + day % 2]
            inbound = messages.add_inbound(producer.id, "¿Cuándo riego?", now=at)
            messages.record_reply(
                inbound.id,
                output["respuesta_chat"],
                status="answered",
                role="consulta",
                model_output=output,
                now=at + dt.timedelta(seconds=3 + (day * 7 + p * 5) % 20),
            )
        alert = alerts.create(
            phone=producer.phone,
            message="Helada esta noche",
            level="alta",
            source="admin",
            now=now - dt.timedelta(days=p * 2),
        )
        if p % 3:
            alerts.mark_sent(alert, now=now - dt.timedelta(days=p * 2))


def open_dashboard(driver: Any, panel: Panel, width: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    emulate(driver, width, 900)
    driver.get(f"{panel.url}/admin")
    if "/admin/login" in driver.current_url:
        driver.find_element(By.ID, "usuario").send_keys(ADMIN)
        driver.find_element(By.ID, "clave").send_keys(PASSWORD)
        driver.find_element(By.XPATH, "//button[normalize-space()='Entrar']").click()
    WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#tendencias svg.chart-svg")
    )


def emulate(driver: Any, width: int, height: int) -> None:
    """A screen ``width`` CSS pixels wide. Emulated rather than a window size (chromium keeps
    windows wider than a phone), and without mobile emulation's zoom-out: a phone browser
    shrinks a page wider than its screen, which would lay the charts out wider than 390 px
    and hide the very overflow this looks for."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def screenshot(driver: Any, name: str, width: int) -> Path:
    """The whole page: the emulated screen made as tall as the page, then captured."""
    height = min(MAX_SHOT_HEIGHT, driver.execute_script("return document.body.scrollHeight"))
    emulate(driver, width, height)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path))
    return path


@pytest.mark.parametrize("width", [1280, 390])
def test_dashboard_charts_are_drawn_and_fit_the_screen(
    panel: Panel,
    driver: Any,
    width: int,
) -> None:
    from selenium.webdriver.common.by import By

    seed(panel)
    open_dashboard(driver, panel, width)
    assert driver.execute_script("return window.innerWidth") == width
    charts = driver.find_elements(By.CSS_SELECTOR, "#tendencias svg.chart-svg")
    assert len(charts) == 5
    for chart in charts:
        driver.execute_script("arguments[0].scrollIntoView()", chart)
        assert chart.is_displayed()
        box = driver.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.left, r.right, r.height]",
            chart,
        )
        assert box[2] > 100, "a chart drawn too small to read"
        assert box[0] >= 0 and box[1] <= width, f"a chart sticks out of the page: {box}"
    # Something was drawn: bars and the latency points, not "sin datos".
    assert driver.find_elements(By.CSS_SELECTOR, "#tendencias rect.bar")
    assert driver.find_elements(By.CSS_SELECTOR, "#tendencias circle.point")
    # The numbers are one tap away.
    first = driver.find_element(By.CSS_SELECTOR, "#tendencias details summary")
    driver.execute_script("arguments[0].scrollIntoView()", first)
    first.click()
    table = driver.find_element(By.CSS_SELECTOR, "#tendencias details[open] table")
    assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) == 14
    path = screenshot(driver, f"dashboard-{width}.png", width)
    assert path.stat().st_size > 10_000


def test_dashboard_does_not_scroll_sideways_on_a_phone(
    panel: Panel,
    driver: Any,
) -> None:
    seed(panel)
    open_dashboard(driver, panel, 390)
    scroll, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll <= inner, f"the page scrolls sideways on a phone ({scroll} > {inner})"
