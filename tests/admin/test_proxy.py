"""Behind a reverse proxy: waitress believes the forwarded client address and scheme from the
trusted proxy only (AGROCHAT_TRUSTED_PROXY), so cookies are Secure over https and the login
throttle and the audit see each client's own address."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from agrochat.config import Config
from agrochat.errors import ConfigError
from agrochat.http import HttpServer
from agrochat.http._admin_auth import LOGIN_COOKIE, SESSION_COOKIE
from tests.admin.conftest import ADMIN, PASSWORD, Browser, Panel, serving
from tests.schema import admin_sessions

# The tests connect from 127.0.0.1: trusted in one server, a stranger to the other.
TRUSTED = {
    "trusted_proxy": "127.0.0.1",
    "trusted_proxy_headers": "x-forwarded-for x-forwarded-proto",
}
OTHER_PROXY = {**TRUSTED, "trusted_proxy": "127.0.0.2"}


class TlsProxy(httpx.HTTPTransport):
    """Stands in for a TLS-terminating reverse proxy: the browser speaks https to it (so its
    cookie jar sends Secure cookies back), it passes the request on in plain http with the
    client's address and scheme in X-Forwarded-For and X-Forwarded-Proto."""

    def __init__(self, client: str) -> None:
        super().__init__()
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["X-Forwarded-For"] = self.client
        request.headers["X-Forwarded-Proto"] = request.url.scheme
        request.url = request.url.copy_with(scheme="http")
        return super().handle_request(request)


def forwarded(server: HttpServer, client: str) -> Browser:
    """A browser at ``client`` whose requests reach ``server`` through the proxy, over https."""
    return Browser(
        httpx.Client(
            base_url=f"https://{server.host}:{server.port}",
            transport=TlsProxy(client),
            timeout=10,
        )
    )


def cookie_header(response: httpx.Response, name: str) -> str:
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(name + "=")]
    return cookie


def session_ips(panel: Panel) -> list[str]:
    with panel.db.tx() as conn:
        return list(conn.execute(sa.select(admin_sessions.c.ip)).scalars())


def test_trusted_proxy_gives_the_client_address_and_https(panel: Panel) -> None:
    with serving(panel.context, **TRUSTED) as server:
        browser = forwarded(server, "203.0.113.9")
        page = browser.get("/admin/login")
        assert "Secure" in cookie_header(page, LOGIN_COOKIE)
        response = browser.login(ADMIN, PASSWORD)
        assert response.status_code == 303
        assert "Secure" in cookie_header(response, SESSION_COOKIE)
    assert session_ips(panel) == ["203.0.113.9"]
    [login] = [r for r in panel.audit_rows() if r.action == "admin.login"]
    assert login.target == "203.0.113.9"


def test_forwarded_headers_from_an_untrusted_address_are_ignored(panel: Panel) -> None:
    with serving(panel.context, **OTHER_PROXY) as server:
        browser = forwarded(server, "203.0.113.9")
        page = browser.get("/admin/login")
        assert "Secure" not in cookie_header(page, LOGIN_COOKIE)
        response = browser.login(ADMIN, PASSWORD)
        assert response.status_code == 303
        assert "Secure" not in cookie_header(response, SESSION_COOKIE)
    assert session_ips(panel) == ["127.0.0.1"]


def test_the_throttle_sees_each_forwarded_client_behind_the_trusted_proxy(panel: Panel) -> None:
    with serving(panel.context, **TRUSTED) as server:
        attacker = forwarded(server, "203.0.113.66")
        for _ in range(10):
            attacker.login(ADMIN, "guessing-the-password")
        assert attacker.login(ADMIN, "guessing-again").status_code == 429
        assert forwarded(server, "198.51.100.7").login(ADMIN, PASSWORD).status_code == 303


def test_a_client_cannot_dodge_the_throttle_by_forging_forwarded_for(panel: Panel) -> None:
    with serving(panel.context, **OTHER_PROXY) as server:
        for n in range(5):
            assert forwarded(server, f"203.0.113.{n}").login(ADMIN, "x" * 12).status_code == 401
        assert forwarded(server, "203.0.113.99").login(ADMIN, "x" * 12).status_code == 429


def test_trusted_proxy_settings_are_read_and_checked() -> None:
    config = Config.from_env(
        {"AGROCHAT_TRUSTED_PROXY": "10.0.0.5", "AGROCHAT_TRUSTED_PROXY_HEADERS": "X-Forwarded-For"}
    )
    assert (config.trusted_proxy, config.trusted_proxy_headers) == ("10.0.0.5", "x-forwarded-for")
    assert Config().trusted_proxy == ""  # by default no proxy is believed
    with pytest.raises(ConfigError, match="AGROCHAT_TRUSTED_PROXY_HEADERS"):
        Config.from_env({"AGROCHAT_TRUSTED_PROXY_HEADERS": "x-real-ip"})
