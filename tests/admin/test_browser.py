"""The panel in a real browser: Debian's chromium, headless, driven by selenium through
chromedriver, against the test server on 127.0.0.1 only.

Skipped where chromium or chromedriver is not installed, except in CI (CI=true), where their
absence is a failure: ``.ci/run`` installs them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from agrochat.persistence import AlertStore, MessageStore, ProducerStore
from tests.admin.conftest import ADMIN, PASSWORD, Panel

# Set to a directory to keep the screenshots (to look at them); by default they go to tmp_path.
SCREENSHOT_DIR = os.environ.get("AGROCHAT_ADMIN_SCREENSHOTS")


def test_admin_logs_in_edits_a_producer_and_creates_an_alert(
    panel: Panel, driver: Any, tmp_path: Path
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    producers = ProducerStore(panel.db)
    producer, _ = producers.get_or_create("51987654321")
    producers.set_fields(
        producer.id,
        {"nombre": "Rosa Quispe", "cultivo": "papa", "area_ha": "1", "distrito": "Huancayo"},
        source="model",
    )
    producers.update(producer.id, name="Rosa Quispe", needs_human=True)
    inbound = MessageStore(panel.db).add_inbound(producer.id, "<script>alert(1)</script>")
    MessageStore(panel.db).record_reply(
        inbound.id, "Riega cuando el suelo esté seco a 15 cm.", status="answered"
    )

    def button(label: str) -> Any:
        return driver.find_element(By.XPATH, f"//button[normalize-space()='{label}']")

    def click(element: Any, *, then_heading: str, notice: str | None = None) -> None:
        """Click a button or link and wait for the page it leads to: a click returns before the
        browser has even sent the request."""
        old = driver.find_element(By.TAG_NAME, "html")
        element.click()

        def arrived(d: Any) -> bool:
            if d.find_element(By.TAG_NAME, "html") == old:
                return False
            if then_heading not in d.find_element(By.TAG_NAME, "h1").text:
                return False
            return notice is None or any(
                notice in n.text for n in d.find_elements(By.CSS_SELECTOR, ".notice.ok")
            )

        WebDriverWait(driver, 10).until(arrived)

    def submit(label: str, *, then_heading: str, notice: str | None = None) -> None:
        click(button(label), then_heading=then_heading, notice=notice)

    # Any panel page asks for the login first, then comes back to it.
    driver.get(f"{panel.url}/admin/producers")
    assert "/admin/login" in driver.current_url
    driver.find_element(By.ID, "usuario").send_keys(ADMIN)
    driver.find_element(By.ID, "clave").send_keys(PASSWORD)
    submit("Entrar", then_heading="Productores")

    click(driver.find_element(By.LINK_TEXT, "Rosa Quispe"), then_heading="Rosa Quispe")
    # The producer's message is shown as text: no script ran, no dialog is open.
    bubbles = [b.text for b in driver.find_elements(By.CSS_SELECTOR, ".msg-in .bubble")]
    assert bubbles == ["<script>alert(1)</script>"]
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018

    area = driver.find_element(By.ID, "f-area_ha")
    area.clear()
    area.send_keys("2,5 ha")
    Select(driver.find_element(By.ID, "f-tipo_riego")).select_by_visible_text("goteo")
    submit("Guardar perfil", then_heading="Rosa Quispe", notice="Perfil actualizado.")
    assert driver.find_element(By.ID, "f-area_ha").get_attribute("value") == "2.5"
    assert producers.fields(producer.id)["tipo_riego"] == "goteo"

    submit("Marcar como resuelta", then_heading="Rosa Quispe", notice="resuelta")
    assert producers.get_by_id(producer.id).needs_human is False

    click(driver.find_element(By.LINK_TEXT, "Nueva alerta"), then_heading="Nueva alerta")
    assert driver.find_element(By.ID, "telefono").get_attribute("value") == "51987654321"
    Select(driver.find_element(By.ID, "nivel")).select_by_visible_text("alta")
    driver.find_element(By.ID, "mensaje").send_keys("Helada esta noche: riega ligero por la tarde.")
    submit("Crear alerta", then_heading="Alertas", notice="Alerta creada.")
    row = driver.find_element(By.CSS_SELECTOR, "table.table tbody tr")
    assert "Helada esta noche" in row.text and "Pendiente" in row.text and "Rosa Quispe" in row.text
    [alert] = AlertStore(panel.db).recent()
    assert (alert.level, alert.source, alert.producer_id) == ("alta", "admin", producer.id)

    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(shots / "alerts.png"))
    assert (shots / "alerts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if SCREENSHOT_DIR:
        pages = {
            "producer": f"/admin/producers/{producer.id}",
            "dashboard": "/admin",
            "producers": "/admin/producers",
            "alert_new": "/admin/alerts/new",
            "knowledge_new": "/admin/knowledge/new",
            "not_found": "/admin/no-such-page",
        }
        for name, page in pages.items():
            driver.get(panel.url + page)
            driver.save_screenshot(str(shots / f"{name}.png"))
        submit("Salir", then_heading="agrochat", notice="Sesión cerrada.")
        driver.save_screenshot(str(shots / "login.png"))
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
