"""Admin accounts from the command line (``agrochat admin add|remove``) and the account page:
a reset or a removal ends the admin's sessions; the current-password check is throttled."""

from __future__ import annotations

import io

import pytest

from agrochat.__main__ import main
from agrochat.persistence import AdminStore
from tests.admin.conftest import ADMIN, PASSWORD, Browser, Panel
from tests.schema import admin_sessions, admins


@pytest.fixture
def cli(panel: Panel, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """``agrochat admin ...`` on the panel's database; returns the exit status."""
    monkeypatch.setenv("AGROCHAT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AGROCHAT_DATABASE_URL", panel.db.url)

    def run(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(["admin", *args])

    return run


def test_password_reset_from_the_command_line_ends_the_admins_sessions(
    panel: Panel, browser: Browser, cli, capsys: pytest.CaptureFixture[str]
) -> None:
    AdminStore(panel.db).set_password("bruno", "otra-clave-segura")
    colleague = panel.login("bruno", "otra-clave-segura")
    assert browser.get("/admin").status_code == 200

    assert cli("add", ADMIN, "--password-stdin", stdin="clave-nueva-2026\n") == 0
    assert "sessions ended: 1" in capsys.readouterr().out
    assert browser.get("/admin").status_code == 303  # back to the login
    assert colleague.get("/admin").status_code == 200  # another admin's session is kept
    assert Browser(panel.client()).login(ADMIN, PASSWORD).status_code == 401
    assert panel.login(ADMIN, "clave-nueva-2026")
    [row] = [r for r in panel.audit_rows() if r.action == "admin.password_set"]
    assert (row.actor, row.target) == ("cli", ADMIN)


def test_removing_an_admin_ends_their_sessions_and_their_logins(
    panel: Panel, browser: Browser, cli
) -> None:
    assert cli("remove", ADMIN) == 0
    assert browser.get("/admin").status_code == 303
    assert Browser(panel.client()).login(ADMIN, PASSWORD).status_code == 401
    assert panel.count(admins) == 0 and panel.count(admin_sessions) == 0
    [row] = [r for r in panel.audit_rows() if r.action == "admin.removed"]
    assert (row.actor, row.target) == ("cli", ADMIN)


def test_removing_an_unknown_admin_fails_and_changes_nothing(
    panel: Panel, browser: Browser, cli, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("remove", "nadie") == 1
    assert "no admin named 'nadie'" in capsys.readouterr().err
    assert browser.get("/admin").status_code == 200
    assert panel.count(admins) == 1


def test_current_password_check_on_the_account_page_is_throttled(
    panel: Panel, browser: Browser
) -> None:
    change = {"nueva": "robada-clave-2026", "repetir": "robada-clave-2026"}
    for _ in range(5):
        browser.get("/admin/account")
        assert browser.post("/admin/account", {**change, "actual": "guess"}).status_code == 422
    browser.get("/admin/account")
    response = browser.post("/admin/account", {**change, "actual": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Demasiados intentos" in response.text
    assert AdminStore(panel.db).verify(ADMIN, PASSWORD) is not None  # unchanged
    assert "admin.password_changed" not in [r.action for r in panel.audit_rows()]
