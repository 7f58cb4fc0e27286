"""Headless Chromium for the panel's browser tests: Debian's chromium and chromedriver through
selenium, against the test server on 127.0.0.1 only; a phone's screen by device emulation, and
full-page screenshots into ``artifacts/`` at the repository root (ignored by git) to look at.

Skipped where chromium or chromedriver is not installed, except in CI (CI=true), where their
absence is a failure: ``.ci/run`` installs them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.admin.conftest import ADMIN, PASSWORD
from tests.conftest import IN_CI

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)


def chromium(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless browser with its own profile under ``tmp_path``; for a fixture."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        reason = f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.implicitly_wait(5)
    try:
        yield browser
    finally:
        browser.quit()


def log_in(driver: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/admin/login")
    driver.find_element(By.ID, "usuario").send_keys(ADMIN)
    driver.find_element(By.ID, "clave").send_keys(PASSWORD)
    driver.find_element(By.XPATH, "//button[normalize-space()='Entrar']").click()
    WebDriverWait(driver, 10).until(lambda d: "/admin/login" not in d.current_url)


def emulate(driver: Any, width: int, height: int, *, mobile: bool) -> None:
    """The page laid out as on a screen ``width`` CSS pixels wide (a phone: ``mobile``, so the
    viewport meta tag counts, as it does on a phone)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def full_page_png(driver: Any, path: Path) -> None:
    """The whole page, not just what fits on the screen."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
