"""A real waitress server with the whole app on 127.0.0.1, a SQLite database, one admin, and an
httpx client that logs in like a browser (cookies, the forms' CSRF tokens)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from agrochat.config import Config
from agrochat.http import AppContext, HttpServer, make_app
from agrochat.messages import ChildSnapshot
from agrochat.persistence import AdminStore, Database, ProducerStore, record_audit
from agrochat.phones import chat_id, normalize_phone
from tests.schema import audit

ADMIN = "ana"
PASSWORD = "tierra-fertil-2026"
API_KEY = "test-api-key-0123456789"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class FakeSessions:
    """Stands in for the producers' sessions (SessionGateway): stores validated values the way
    Conversation.update_form does, and records what it was asked."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls: list[tuple[str, dict[str, str], str]] = []
        self.replies: list[tuple[str, str, str]] = []

    def update_form(
        self, phone: str, values: dict[str, str], *, source: str = "api", author: str | None = None
    ) -> Any:
        self.calls.append((phone, dict(values), source))
        store = ProducerStore(self.db)
        producer, _ = store.get_or_create(normalize_phone(phone))
        before = store.fields(producer.id)
        with self.db.tx():
            store.set_fields(producer.id, values, source=source)
            if "nombre" in values:
                store.update(producer.id, name=values["nombre"])
            if author is not None:
                record_audit(
                    self.db,
                    actor=author,
                    action="producer.profile_update",
                    target=f"producer:{producer.id}",
                    details={"fields": values, "before": {n: before.get(n) for n in values}},
                )
        return {"phone": chat_id(phone), "fields": store.fields(producer.id)}

    def admin_reply(self, phone: str, text: str, *, author: str) -> dict[str, Any]:
        self.replies.append((phone, text, author))
        store = ProducerStore(self.db)
        producer, _ = store.get_or_create(normalize_phone(phone))
        store.update(producer.id, taken_over=True, taken_over_by=author)
        return {"message_id": None, "outbox_ids": []}

    def take_over(self, phone: str, *, author: str, to_assistant: bool = False) -> dict[str, Any]:
        store = ProducerStore(self.db)
        producer, _ = store.get_or_create(normalize_phone(phone))
        store.update(
            producer.id, taken_over=not to_assistant, taken_over_by=None if to_assistant else author
        )
        return {"phone": chat_id(phone), "taken_over": not to_assistant}


class FakeSupervisor:
    """What /health and the alert nudge use of the supervisor."""

    escalated = None

    def __init__(self) -> None:
        self.alive = {"inference": True, "sessions": True, "alerts": True}
        self.told: list[Any] = []

    def snapshot(self, *, state: bool = True) -> list[ChildSnapshot]:
        return [
            ChildSnapshot(
                id=k,
                actor_class="",
                urn=None,
                alive=v,
                inbox_size=0,
                restarts=0,
                last_failure=None,
                last_failure_at=None,
            )
            for k, v in self.alive.items()
        ]

    def ref(self, actor_id: str) -> Any:
        return SimpleNamespace(tell=lambda message: self.told.append((actor_id, message)))


@dataclass
class Panel:
    db: Database
    server: HttpServer
    sessions: FakeSessions
    supervisor: FakeSupervisor
    context: AppContext

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)

    def login(self, username: str = ADMIN, password: str = PASSWORD) -> Browser:
        browser = Browser(self.client())
        response = browser.login(username, password)
        assert response.status_code == 303, response.text
        return browser

    def audit_rows(self) -> list[Any]:
        with self.db.tx() as conn:
            return list(conn.execute(sa.select(audit).order_by(audit.c.id)).all())

    def count(self, table: sa.Table, *where: Any) -> int:
        with self.db.tx() as conn:
            query = sa.select(sa.func.count()).select_from(table).where(*where)
            return int(conn.execute(query).scalar() or 0)


class Browser:
    """An httpx client that behaves like a form-filling browser: it keeps cookies and sends
    back the CSRF token of the last page it loaded."""

    def __init__(self, client: httpx.Client) -> None:
        self.http = client
        self.csrf: str | None = None

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(
        self, path: str, data: dict[str, str], *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        body = dict(data)
        if csrf:
            if self.csrf is None:
                self.get("/admin")
            body["csrf"] = self.csrf or ""
        return self.http.post(path, data=body, **kwargs)

    def login(
        self, username: str, password: str, *, next_path: str | None = None
    ) -> httpx.Response:
        self.get("/admin/login")
        data = {"usuario": username, "clave": password}
        if next_path:
            data["next"] = next_path
        response = self.post("/admin/login", data)
        self.csrf = None
        return response

    def close(self) -> None:
        self.http.close()


@pytest.fixture(autouse=True)
def _cheap_password_hashes(cheap_password_hashes: None) -> None:
    """Every panel test logs in."""


@contextlib.contextmanager
def serving(context: AppContext, **options: Any) -> Iterator[HttpServer]:
    """Another real server on the same app context (its own login throttle), e.g. with a
    trusted proxy or more threads: ``options`` go to HttpServer."""
    server = HttpServer(make_app(context), host="127.0.0.1", port=0, **options)
    # waitress notices a stop only at its poll loop's next wake-up (1 s by default): keep each
    # test's teardown short.
    server._server.adj.asyncore_loop_timeout = 0.05  # type: ignore[union-attr]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def serving_panel(database: Database) -> Iterator[Panel]:
    """The panel on ``database`` behind a real waitress server, with its admin account."""
    AdminStore(database).set_password(ADMIN, PASSWORD)
    sessions = FakeSessions(database)
    supervisor = FakeSupervisor()
    context = AppContext(
        config=Config(api_key=API_KEY, operator_token="op-token-0123456789", whatsapp="console"),
        supervisor=supervisor,  # type: ignore[arg-type]
        database=database,
        sessions=sessions,  # type: ignore[arg-type]
        delivers=True,
    )
    context.health_checks["model"] = lambda: (True, "ready")
    with serving(context, threads=4) as server:
        yield Panel(
            db=database, server=server, sessions=sessions, supervisor=supervisor, context=context
        )


@pytest.fixture
def panel(sqlite_database: Database) -> Iterator[Panel]:
    with serving_panel(sqlite_database) as panel:
        yield panel


@pytest.fixture
def browser(panel: Panel) -> Iterator[Browser]:
    b = panel.login()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    """Debian's chromium, headless, with its own profile (skipped where it is not installed,
    a failure in CI)."""
    from tests.admin._chromium import chromium

    yield from chromium(tmp_path)
