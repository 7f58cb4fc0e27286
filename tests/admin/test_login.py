"""Logging in and out of the admin panel: sessions, cookies, CSRF, throttling, expiry."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Literal

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from agrochat.http._admin_auth import KNOWN_BROWSER_COOKIE, SESSION_COOKIE, LoginThrottle
from agrochat.persistence import AdminStore, ProducerStore, utcnow
from tests.admin.conftest import ADMIN, PASSWORD, Browser, Panel, serving
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


def test_a_clients_own_failures_delay_its_next_try_even_with_the_right_password(
    panel: Panel,
) -> None:
    browser = Browser(panel.client())
    for _ in range(5):
        assert browser.login(ADMIN, "wrong-password").status_code == 401
    response = browser.login(ADMIN, PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) == 30
    assert "Demasiados intentos" in response.text
    assert SESSION_COOKIE not in browser.http.cookies


def test_throttle_delays_grow_per_address_and_user_and_are_forgotten() -> None:
    now = [1000.0]
    throttle = LoginThrottle(
        free_failures=2, base_delay_s=10, max_delay_s=35, forget_s=3600, clock=lambda: now[0]
    )
    key = ("10.0.0.1", "ana")
    waits = []
    for _ in range(6):
        waits.append(throttle.begin(key))  # a try that fails: counted when it begins
        if waits[-1] == 0:
            continue
        assert throttle.begin(key) == waits[-1]  # refused tries are not counted
        now[0] += waits[-1]
        assert throttle.begin(key) == 0
    assert waits == [0, 0, 10, 20, 35, 35]
    assert throttle.retry_after(("10.0.0.2", "ana")) == 0  # the same user elsewhere
    assert throttle.retry_after(("10.0.0.1", "bruno")) == 0  # another user from there
    now[0] += 3600
    assert throttle.retry_after(key) == 0


def test_a_right_password_forgives_the_failures_of_its_own_key() -> None:
    throttle = LoginThrottle(free_failures=2, clock=lambda: 0.0)
    key = ("10.0.0.1", "ana")
    for _ in range(2):
        assert throttle.begin(key) == 0
    assert throttle.retry_after(key) > 0
    throttle.succeeded(key)
    assert throttle.retry_after(key) == 0


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


class GatedHasher(PasswordHasher):
    """Holds every password check until the test opens the gate, so that concurrent logins
    are all in flight at once: the moment a check-then-record throttle lets them all through."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.changed = threading.Condition()
        self.checking = 0
        self.gate = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self.changed:
            self.checking += 1
            self.changed.notify_all()
        assert self.gate.wait(10), "the test never opened the gate"
        return super().verify(hash, password)


def test_concurrent_wrong_passwords_get_no_more_tries_than_the_free_ones(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = 12
    hasher = GatedHasher()
    monkeypatch.setattr(AdminStore, "hasher", hasher)
    statuses: list[int] = []
    start = threading.Barrier(clients)

    with serving(panel.context, threads=clients + 2) as server:

        def guess() -> None:
            browser = Browser(httpx.Client(base_url=server.url, timeout=20))
            browser.get("/admin/login")
            start.wait(10)
            status = browser.post("/admin/login", {"usuario": ADMIN, "clave": "guess"}).status_code
            with hasher.changed:
                statuses.append(status)
                hasher.changed.notify_all()
            browser.close()

        threads = [threading.Thread(target=guess) for _ in range(clients)]
        for thread in threads:
            thread.start()
        with hasher.changed:
            # Every try is either being checked (held at the gate) or already refused.
            everyone = hasher.changed.wait_for(
                lambda: hasher.checking + len(statuses) == clients, timeout=10
            )
        hasher.gate.set()
        for thread in threads:
            thread.join(10)
    assert everyone
    assert hasher.checking == 5
    assert sorted(statuses) == [401] * 5 + [429] * 7


def test_correct_password_is_never_refused_for_someone_elses_failures(panel: Panel) -> None:
    # Someone guessing at another admin's password from the same address ...
    AdminStore(panel.db).set_password("bruno", "otra-clave-segura")
    neighbour = Browser(panel.client())
    for _ in range(8):
        neighbour.login("bruno", "not-the-password")
    assert Browser(panel.client()).login(ADMIN, PASSWORD).status_code == 303
    # ... or at the same admin's from another address (forwarded by the trusted proxy).
    with serving(
        panel.context, trusted_proxy="127.0.0.1", trusted_proxy_headers="x-forwarded-for"
    ) as server:
        attacker = Browser(
            httpx.Client(
                base_url=server.url, headers={"X-Forwarded-For": "203.0.113.66"}, timeout=10
            )
        )
        for _ in range(8):
            attacker.login(ADMIN, "not-the-password")
        admin = Browser(
            httpx.Client(base_url=server.url, headers={"X-Forwarded-For": "198.51.100.7"})
        )
        assert admin.login(ADMIN, PASSWORD).status_code == 303


def test_a_browser_that_logged_in_before_is_not_delayed_by_strangers_at_its_address(
    panel: Panel,
) -> None:
    browser = panel.login()
    assert KNOWN_BROWSER_COOKIE in browser.http.cookies
    browser.post("/admin/logout", {})
    stranger = Browser(panel.client())  # the same address: an office, an untrusted proxy
    for _ in range(8):
        stranger.login(ADMIN, "not-the-password")
    assert Browser(panel.client()).login(ADMIN, PASSWORD).status_code == 429
    assert browser.login(ADMIN, PASSWORD).status_code == 303
    # A new password voids what the browser kept: it is a stranger again.
    browser.post("/admin/logout", {})
    AdminStore(panel.db).set_password(ADMIN, "clave-nueva-2026")
    assert browser.login(ADMIN, "clave-nueva-2026").status_code == 429
