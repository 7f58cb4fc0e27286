"""Logging in and out of the admin panel: sessions, cookies, CSRF, throttling, expiry."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import httpx
import sqlalchemy as sa
import waitress
from waitress import wasyncore

from agrochat.http import make_app
from agrochat.http._admin_auth import LOGIN_COOKIE, SESSION_COOKIE, LoginThrottle
from agrochat.persistence import ProducerStore, utcnow
from tests.admin.conftest import ADMIN, PASSWORD, Browser, Panel
from tests.schema import admin_sessions, producers


def set_cookie_headers(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def test_pages_redirect_to_the_login_without_a_session(panel: Panel) -> None:
    with panel.client() as client:
        response = client.get("/admin/producers?q=papa")
    assert response.status_code == 303
    assert response.headers["location"].endswith(
        "/admin/login?next=%2Fadmin%2Fproducers%3Fq%3Dpapa"
    )


def test_login_opens_a_server_side_session_in_a_strict_httponly_cookie(panel: Panel) -> None:
    browser = Browser(panel.client())
    response = browser.login(ADMIN, PASSWORD, next_path="/admin/alerts")
    assert response.status_code == 303
    assert response.headers["location"].endswith("/admin/alerts")
    [cookie] = [c for c in set_cookie_headers(response) if c.startswith(SESSION_COOKIE + "=")]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    token = browser.http.cookies[SESSION_COOKIE]
    with panel.db.tx() as conn:
        stored = conn.execute(sa.select(admin_sessions.c.token_hash)).scalars().all()
    assert len(stored) == 1 and token not in stored[0]  # only a hash is kept

    page = browser.get("/admin")
    assert page.status_code == 200
    assert ">ana<" in page.text
    [row] = [r for r in panel.audit_rows() if r.action == "admin.login"]
    assert row.actor == "admin:ana"


def test_wrong_password_and_unknown_user_get_the_same_refusal(panel: Panel) -> None:
    answers = []
    for username, password in ((ADMIN, "not-the-password"), ("nobody", PASSWORD)):
        browser = Browser(panel.client())
        response = browser.login(username, password)
        answers.append((response.status_code, "Usuario o contraseña incorrectos." in response.text))
        assert SESSION_COOKIE not in browser.http.cookies
        assert browser.get("/admin").status_code == 303
    assert answers == [(401, True), (401, True)]
    assert not [r for r in panel.audit_rows() if r.action == "admin.login"]


def test_login_is_throttled_after_five_failures_even_with_the_right_password(panel: Panel) -> None:
    browser = Browser(panel.client())
    for _ in range(5):
        assert browser.login(ADMIN, "wrong-password").status_code == 401
    response = browser.login(ADMIN, PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Demasiados intentos" in response.text
    assert SESSION_COOKIE not in browser.http.cookies


def test_throttle_counts_per_key_and_forgets_after_the_window() -> None:
    now = [1000.0]
    throttle = LoginThrottle(max_failures=3, window_s=60, clock=lambda: now[0])
    ip, user = ("ip", "10.0.0.1"), ("user", "ana")
    for _ in range(3):
        assert throttle.retry_after(ip, user) == 0
        throttle.failed(ip, user)
    assert throttle.retry_after(ip, user) == 60
    assert throttle.retry_after(("ip", "10.0.0.2"), user) == 60  # the same user elsewhere
    assert throttle.retry_after(ip, ("user", "bruno")) == 60  # another user from there
    assert throttle.retry_after(("ip", "10.0.0.2"), ("user", "bruno")) == 0
    now[0] += 61
    assert throttle.retry_after(ip, user) == 0


def test_login_form_without_its_csrf_token_is_refused(panel: Panel) -> None:
    with panel.client() as client:
        client.get("/admin/login")
        response = client.post("/admin/login", data={"usuario": ADMIN, "clave": PASSWORD})
        forged = client.post(
            "/admin/login", data={"usuario": ADMIN, "clave": PASSWORD, "csrf": "x" * 43}
        )
    assert response.status_code == 403 and forged.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "caducó" in response.text
    assert SESSION_COOKIE not in client.cookies


def test_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    panel: Panel, browser: Browser
) -> None:
    producer, _ = ProducerStore(panel.db).get_or_create("51987654321")
    ProducerStore(panel.db).update(producer.id, needs_human=True)
    path = f"/admin/producers/{producer.id}/resolve"
    missing = browser.post(path, {}, csrf=False)
    wrong = browser.http.post(path, data={"csrf": "not-the-token"})
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert missing.headers["content-type"].startswith("text/html")
    assert ProducerStore(panel.db).get_by_id(producer.id).needs_human is True
    assert not [r for r in panel.audit_rows() if r.action == "producer.resolved"]


def test_post_from_another_origin_is_refused(panel: Panel, browser: Browser) -> None:
    producer, _ = ProducerStore(panel.db).get_or_create("51987654321")
    ProducerStore(panel.db).update(producer.id, needs_human=True)
    response = browser.post(
        f"/admin/producers/{producer.id}/resolve",
        {},
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert ProducerStore(panel.db).get_by_id(producer.id).needs_human is True


def test_an_expired_session_sends_back_to_the_login(panel: Panel, browser: Browser) -> None:
    assert browser.get("/admin").status_code == 200
    with panel.db.tx() as conn:
        conn.execute(admin_sessions.update().values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    response = browser.get("/admin/producers")
    assert response.status_code == 303
    assert (
        "/admin/login?" in response.headers["location"]
        and "ok=expired" in response.headers["location"]
    )
    assert any(c.startswith(SESSION_COOKIE + '=""') for c in set_cookie_headers(response))
    # A form posted with the expired session changes nothing either.
    producer, _ = ProducerStore(panel.db).get_or_create("51987654321")
    ProducerStore(panel.db).update(producer.id, needs_human=True)
    posted = browser.post(f"/admin/producers/{producer.id}/resolve", {})
    assert posted.status_code == 303
    assert ProducerStore(panel.db).get_by_id(producer.id).needs_human is True


def test_logout_ends_the_session_for_good(panel: Panel, browser: Browser) -> None:
    token = browser.http.cookies[SESSION_COOKIE]
    response = browser.post("/admin/logout", {})
    assert response.status_code == 303
    assert response.headers["location"].endswith("/admin/login?ok=logout")
    with panel.client() as replay:
        replay.cookies.set(SESSION_COOKIE, token, path="/admin")
        assert replay.get("/admin").status_code == 303
    assert panel.count(admin_sessions) == 0
    assert [r.action for r in panel.audit_rows()][-1] == "admin.logout"


def test_login_cookie_is_secure_behind_a_trusted_https_proxy(panel: Panel) -> None:
    # waitress believes X-Forwarded-Proto only from a proxy it is told to trust.
    server = waitress.create_server(
        make_app(panel.context),
        host="127.0.0.1",
        port=0,
        trusted_proxy="127.0.0.1",
        trusted_proxy_headers={"x-forwarded-proto"},
        asyncore_loop_timeout=0.05,
    )

    def run() -> None:
        # Closing the sockets from this thread can race the poll loop on a closed descriptor.
        with contextlib.suppress(OSError):
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
        with httpx.Client(base_url=base, headers={"X-Forwarded-Proto": "https"}) as client:
            page = client.get("/admin/login")
            [cookie] = [c for c in set_cookie_headers(page) if c.startswith(LOGIN_COOKIE)]
        assert "Secure" in cookie
    finally:
        server.close()
        wasyncore.close_all(server._map)  # type: ignore[union-attr]
        thread.join(5)


def test_password_change_ends_the_admins_other_sessions(panel: Panel, browser: Browser) -> None:
    other = panel.login()
    browser.get("/admin/account")
    refused = browser.post(
        "/admin/account", {"actual": "wrong", "nueva": "x" * 12, "repetir": "x" * 12}
    )
    assert refused.status_code == 422 and "No es tu contraseña actual." in refused.text
    browser.get("/admin/account")
    response = browser.post(
        "/admin/account",
        {"actual": PASSWORD, "nueva": "nueva-clave-segura", "repetir": "nueva-clave-segura"},
    )
    assert response.status_code == 303
    assert browser.get("/admin").status_code == 200
    assert other.get("/admin").status_code == 303
    assert panel.login(ADMIN, "nueva-clave-segura")
    assert "admin.password_changed" in [r.action for r in panel.audit_rows()]
    with panel.db.tx() as conn:
        assert conn.execute(sa.select(producers)).first() is None  # nothing else touched
