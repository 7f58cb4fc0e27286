"""Bad input to the panel, sent to every one of its routes (walked from the app, so a route added
later is covered too): a clear 4xx page, nothing changed, never a 500.

The API's routes get the same treatment in tests/foundation/test_http_shell.py
(test_malformed_body_to_every_post_route_is_a_json_4xx)."""

from __future__ import annotations

from typing import Any

import bottle
import httpx
import pytest
import sqlalchemy as sa

from agrochat.http import make_app
from agrochat.http._admin_auth import LOGIN_COOKIE
from agrochat.persistence import (
    AlertStore,
    KnowledgeStore,
    MessageStore,
    ProducerStore,
    VoiceNoteStore,
)
from tests.admin.conftest import Browser, Panel
from tests.schema import admin_sessions, metadata

PHONE = "51987654321"
FORM = "application/x-www-form-urlencoded"


def _panel_routes(app: bottle.Bottle, method: str, ids: dict[str, Any]) -> list[str]:
    """Every panel route for ``method``, its path parameters filled with rows that exist."""
    paths = []
    for route in app.routes:
        if route.method != method or not route.rule.startswith("/admin"):
            continue
        if route.rule.startswith("/admin/static"):
            continue
        path = route.rule.replace("<rest:path>", "no-such-page")
        for name, value in ids.items():
            path = path.replace(f"<{name}:int>", str(value)).replace(f"<{name}>", str(value))
        assert "<" not in path, f"fill in the parameters of {route.rule}"
        paths.append(path)
    return paths


def _rows(panel: Panel) -> dict[str, list[Any]]:
    """Every table's rows, except the admins' sessions (each request refreshes its own)."""
    with panel.db.tx() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(sa.select(table)).all()), key=repr)
            for table in metadata.sorted_tables
            if table is not admin_sessions
        }


@pytest.fixture
def ids(panel: Panel) -> dict[str, Any]:
    producer, _ = ProducerStore(panel.db).get_or_create(PHONE)
    ProducerStore(panel.db).set_fields(producer.id, {"cultivo": "papa"}, source="model")
    alert_id = AlertStore(panel.db).create(
        phone=PHONE, message="Helada esta noche", level="alta", source="api"
    )
    entry = KnowledgeStore(panel.db).all()[0]
    inbound = MessageStore(panel.db).add_inbound(producer.id, "¿Cuándo riego?")
    reply = MessageStore(panel.db).record_reply(
        inbound.id, "Riega al atardecer.", status="answered"
    )
    voice = MessageStore(panel.db).add_inbound(producer.id, "", media_type="ptt")
    VoiceNoteStore(panel.db).save(producer.id, voice.id, b"OggS", "audio/ogg")
    return {
        "reply_id": reply.id,
        "producer_id": producer.id,
        "message_id": voice.id,
        "alert_id": alert_id,
        "entry_id": entry.id,
        "channel": "default",
    }


def _not_utf8_bodies(csrf: str) -> list[tuple[bytes, str]]:
    """Forms a browser would never send for a UTF-8 page, each with the right CSRF token."""
    token = csrf.encode()
    boundary = "x-agrochat-test"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'.encode()
        + token
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="texto"\r\n\r\n'.encode()
        + b"\xff\xfe riego\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    return [
        (b"csrf=" + token + b"&usuario=\xff\xfe&texto=\xc3\x28", FORM),  # raw bytes
        (b"csrf=" + token + b"&usuario=%FF%FE&texto=%C3%28", FORM),  # %-escaped bytes
        (b"csrf=" + token + b"&%FF%FE=1", FORM),  # in a field's name
        (multipart, f"multipart/form-data; boundary={boundary}"),
    ]


def _assert_clear_4xx_page(response: httpx.Response, path: str) -> None:
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html"), path
    assert "Traceback" not in response.text


def test_a_form_that_is_not_utf8_to_every_panel_post_route_is_a_400_page_changing_nothing(
    panel: Panel, browser: Browser, ids: dict[str, Any]
) -> None:
    routes = _panel_routes(make_app(panel.context), "POST", ids)
    assert "/admin/login" in routes
    assert f"/admin/producers/{ids['producer_id']}/profile" in routes
    browser.get("/admin")
    assert browser.csrf is not None
    before = _rows(panel)
    for path in routes:
        for body, content_type in _not_utf8_bodies(browser.csrf):
            response = browser.http.post(path, content=body, headers={"Content-Type": content_type})
            _assert_clear_4xx_page(response, path)
            assert response.status_code == 400, (path, response.text[:300])
            assert "UTF-8" in response.text
    assert _rows(panel) == before
    assert panel.sessions.calls == [] and panel.sessions.replies == []
    # Still logged in: the refusals ended nothing.
    assert browser.get("/admin").status_code == 200


def test_a_form_that_is_not_utf8_without_a_session_changes_nothing(
    panel: Panel, ids: dict[str, Any]
) -> None:
    before = _rows(panel)
    with panel.client() as client:
        client.get("/admin/login")
        for path in _panel_routes(make_app(panel.context), "POST", ids):
            for body, content_type in _not_utf8_bodies(client.cookies.get(LOGIN_COOKIE, "")):
                response = client.post(path, content=body, headers={"Content-Type": content_type})
                # The login form says what is wrong; every other action sends to the login.
                if path == "/admin/login":
                    _assert_clear_4xx_page(response, path)
                    assert response.status_code == 400
                else:
                    assert response.status_code == 303, (path, response.status_code)
    assert _rows(panel) == before


@pytest.mark.parametrize("page", ["²", "\u0661", "-1", "0", "99999999999999999999999", "1e3", " 2"])
def test_an_odd_page_number_on_every_panel_page_shows_a_page_never_a_500(
    panel: Panel, browser: Browser, ids: dict[str, Any], page: str
) -> None:
    for path in _panel_routes(make_app(panel.context), "GET", ids):
        response = browser.http.get(path, params={"pagina": page, "n": page, "ok": "alertas"})
        assert response.status_code < 500, (path, response.status_code, response.text[:300])


@pytest.mark.parametrize("date", ["hace 800000 dias", "hace 999999999999 semanas", "hace ² días"])
def test_a_profile_date_further_back_than_the_calendar_is_a_422_page(
    panel: Panel, browser: Browser, ids: dict[str, Any], date: str
) -> None:
    path = f"/admin/producers/{ids['producer_id']}"
    browser.get(path)
    before = _rows(panel)
    response = browser.post(f"{path}/profile", {"cultivo": "papa", "fecha_siembra": date})
    _assert_clear_4xx_page(response, path)
    assert response.status_code == 422
    assert _rows(panel) == before
    assert panel.sessions.calls == []


@pytest.mark.parametrize("when", ["9999-12-31T23:59", "9999-12-31T23:59:59-05:00"])
def test_an_alert_time_past_the_calendar_in_utc_is_a_422_page(
    panel: Panel, browser: Browser, when: str
) -> None:
    browser.get("/admin/alerts/new")
    before = _rows(panel)
    response = browser.post(
        "/admin/alerts",
        {
            "mensaje": "Helada",
            "nivel": "alta",
            "destino": "telefono",
            "telefono": PHONE,
            "programada": when,
        },
    )
    _assert_clear_4xx_page(response, "/admin/alerts")
    assert response.status_code == 422
    assert "Fecha y hora no válidas" in response.text
    assert _rows(panel) == before
