"""The seed's alert contract over a real WSGI server (waitress on 127.0.0.1, any free port)."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import waitress
from freezegun import freeze_time
from waitress import wasyncore

from agrochat.config import Config
from agrochat.errors import NotReady
from agrochat.http import AppContext, make_app
from agrochat.messages import Tick
from agrochat.persistence import AlertStore, Database, utcnow
from tests.alerts._data import add_producer, count
from tests.schema import alerts

API_KEY = "test-api-key-0123456789"
PHONE = "51987654321"


class FakeSupervisor:
    """What the routes use of the supervisor: ``ref(id)``; records what is told to it."""

    escalated = None

    def __init__(self) -> None:
        self.told: list[tuple[str, Any]] = []

    def ref(self, id: str) -> Any:
        supervisor = self

        class Ref:
            def tell(self, message: Any) -> None:
                supervisor.told.append((id, message))

        if id != "alerts":
            raise NotReady(f"actor {id!r} is not running")
        return Ref()

    def proxy(self, id: str) -> Any:
        raise NotReady(f"actor {id!r} is not running")

    def snapshot(self, *, state: bool = True) -> list[Any]:
        return []

    def ids(self) -> list[str]:
        return []


class Server:
    def __init__(self, db: Database | None, *, whatsapp: str = "none") -> None:
        self.supervisor = FakeSupervisor()
        config = Config(api_key=API_KEY, operator_token="op-token-0123456789", whatsapp=whatsapp)
        self.context = AppContext(
            config=config,
            supervisor=self.supervisor,  # type: ignore[arg-type]
            database=db,
            delivers=whatsapp != "none",
        )
        self.server = waitress.create_server(
            make_app(self.context),
            host="127.0.0.1",
            port=0,
            threads=4,
            # Its poll loop notices close() only at the next wake-up: keep teardown quick.
            asyncore_loop_timeout=0.05,
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        port = self.server.effective_port  # type: ignore[union-attr]
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        )

    def _run(self) -> None:
        # Closing the sockets from close() can race the poll loop on a closed descriptor.
        with contextlib.suppress(OSError):
            self.server.run()

    def close(self) -> None:
        self.client.close()
        self.server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
        wasyncore.close_all(self.server._map)  # type: ignore[union-attr]
        self.thread.join(timeout=5)


@pytest.fixture
def server(database: Database) -> Iterator[Server]:
    """On SQLite and on PostgreSQL."""
    s = Server(database)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_server(sqlite_database: Database) -> Iterator[Server]:
    """Input checking does not depend on the database: SQLite only, to keep the suite fast."""
    s = Server(sqlite_database)
    try:
        yield s
    finally:
        s.close()


def test_seed_poll_contract_exactly(server: Server, database: Database) -> None:
    add_producer(database, PHONE)
    created = server.client.post(
        "/alert",
        json={
            "phone": f"{PHONE}@c.us",
            "message": "Alerta: Posible plaga detectada",
            "level": "alta",
        },
    )
    assert created.status_code == 201
    alert_id = created.json()["id"]
    assert created.json()["ids"] == [alert_id]

    pending = server.client.get("/alerts/pending")
    assert pending.status_code == 200
    assert pending.headers["content-type"].startswith("application/json")
    assert pending.json() == {
        "alerts": [
            {
                "id": alert_id,
                "phone": "51987654321@c.us",
                "message": "Alerta: Posible plaga detectada",
                "level": "alta",
            }
        ]
    }

    sent = server.client.post(f"/alerts/{alert_id}/sent")
    assert sent.status_code == 200 and sent.json() == {"id": alert_id, "status": "sent"}
    assert server.client.get("/alerts/pending").json() == {"alerts": []}
    # Twice is harmless.
    assert server.client.post(f"/alerts/{alert_id}/sent").status_code == 200
    assert AlertStore(database).get(alert_id).status == "sent"  # type: ignore[union-attr]


def test_a_bridge_reporting_a_cancelled_alert_sent_is_told_it_is_cancelled(
    server: Server, database: Database
) -> None:
    created = server.client.post("/alert", json={"phone": "51987654321", "message": "Helada"})
    alert_id = created.json()["id"]
    assert AlertStore(database).cancel(alert_id)
    sent = server.client.post(f"/alerts/{alert_id}/sent")
    assert sent.status_code == 200 and sent.json() == {"id": alert_id, "status": "cancelled"}
    assert AlertStore(database).get(alert_id).status == "cancelled"  # type: ignore[union-attr]


@pytest.mark.parametrize("raw_id", ["999999", "abc", "-1", "1.5", "99999999999999999999"])
def test_marking_an_unknown_alert_sent_is_a_json_404(sqlite_server: Server, raw_id: str) -> None:
    response = sqlite_server.client.post(f"/alerts/{raw_id}/sent")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_pending_lists_only_due_unexpired_alerts_oldest_first(
    server: Server, database: Database
) -> None:
    store = AlertStore(database)
    now = utcnow()
    later = store.create(
        phone=PHONE,
        message="luego",
        level="baja",
        source="api",
        scheduled_at=now + dt.timedelta(hours=1),
    )
    old = store.create(
        phone=PHONE,
        message="antes",
        level="media",
        source="api",
        scheduled_at=now - dt.timedelta(minutes=5),
    )
    stale = store.create(
        phone=PHONE,
        message="vencida",
        level="media",
        source="api",
        scheduled_at=now - dt.timedelta(hours=3),
        expires_at=now - dt.timedelta(hours=1),
    )
    due = store.create(phone=PHONE, message="ahora", level="alta", source="api")
    ids = [a["id"] for a in server.client.get("/alerts/pending").json()["alerts"]]
    assert ids == [old, due]
    assert later not in ids and stale not in ids


def test_scheduled_alert_appears_when_due(server: Server, database: Database) -> None:
    with freeze_time("2026-03-02 15:00:00", tick=True):
        created = server.client.post(
            "/alert",
            json={
                "phone": "+51 987 654 321",
                "message": "Riego",
                "level": "baja",
                "scheduled_at": "2026-03-02T12:00:00-05:00",
            },
        )
        assert created.status_code == 201, created.text
        assert server.client.get("/alerts/pending").json() == {"alerts": []}
    alert = AlertStore(database).get(created.json()["id"])
    assert alert is not None and alert.scheduled_at == dt.datetime(2026, 3, 2, 17, 0)
    with freeze_time("2026-03-02 17:00:00", tick=True):
        assert [a["id"] for a in server.client.get("/alerts/pending").json()["alerts"]] == [
            alert.id
        ]


def test_segment_creates_one_alert_per_matching_producer(
    server: Server, database: Database
) -> None:
    a = add_producer(database, "51900000001", fields={"cultivo": "papa", "distrito": "Huanta"})
    add_producer(database, "51900000002", fields={"cultivo": "maíz", "distrito": "Huanta"})
    c = add_producer(database, "51900000003", fields={"cultivo": "Papa", "distrito": "Tambo"})
    response = server.client.post(
        "/alert", json={"segment": {"cultivo": "papa"}, "message": "Rancha", "level": "alta"}
    )
    assert response.status_code == 201
    ids = response.json()["ids"]
    store = AlertStore(database)
    assert sorted(store.get(i).producer_id for i in ids) == [a, c]  # type: ignore[union-attr]
    by_district = server.client.post(
        "/alert", json={"segment": {"distrito": "huanta"}, "message": "Helada", "level": "media"}
    )
    assert by_district.json()["count"] == 2
    everyone = server.client.post(
        "/alert", json={"segment": "all", "message": "Aviso", "level": "baja"}
    )
    assert everyone.json()["count"] == 3
    phones = {a["phone"] for a in server.client.get("/alerts/pending").json()["alerts"]}
    assert phones == {"51900000001@c.us", "51900000002@c.us", "51900000003@c.us"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"phone": PHONE, "message": "x", "level": "urgente"}, {"level"}),
        ({"phone": PHONE, "message": "", "level": "alta"}, {"message"}),
        ({"phone": PHONE, "message": "x" * 1001, "level": "alta"}, {"message"}),
        ({"phone": PHONE, "level": "alta"}, {"message"}),
        ({"phone": "12ab", "message": "x", "level": "alta"}, {"phone"}),
        ({"phone": 51987654321, "message": "x", "level": "alta"}, {"phone"}),
        ({"message": "x", "level": "alta"}, {"phone"}),
        ({"phone": PHONE, "segment": "all", "message": "x"}, {"segment"}),
        ({"segment": {"color": "rojo"}, "message": "x"}, {"segment"}),
        ({"segment": {"cultivo": ""}, "message": "x"}, {"segment"}),
        ({"segment": "some", "message": "x"}, {"segment"}),
        ({"phone": PHONE, "message": "x", "scheduled_at": "mañana"}, {"scheduled_at"}),
        ({"phone": PHONE, "message": "x", "scheduled_at": 1700000000}, {"scheduled_at"}),
        (
            {
                "phone": PHONE,
                "message": "x",
                "scheduled_at": "2026-01-02T00:00:00Z",
                "expires_at": "2026-01-01",
            },
            {"expires_at"},
        ),
        # Valid ISO 8601, but outside what a datetime holds once converted to UTC.
        (
            {"phone": PHONE, "message": "x", "scheduled_at": "0001-01-01T00:00:00+05:00"},
            {"scheduled_at"},
        ),
        (
            {"phone": PHONE, "message": "x", "expires_at": "9999-12-31T23:59:59-05:00"},
            {"expires_at"},
        ),
        (
            {"phone": "1", "message": "", "level": "x", "scheduled_at": "?"},
            {"phone", "message", "level", "scheduled_at"},
        ),
    ],
)
def test_bad_alert_is_a_422_listing_each_field_and_stores_nothing(
    sqlite_server: Server, sqlite_database: Database, body: dict[str, Any], fields: set[str]
) -> None:
    response = sqlite_server.client.post("/alert", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_fields"
    assert set(error["details"]) == fields
    assert count(sqlite_database, alerts) == 0


def test_marking_sent_takes_no_body_or_a_json_one(server: Server, database: Database) -> None:
    alert_id = AlertStore(database).create(phone=PHONE, message="a", level="alta", source="api")
    assert server.client.post(f"/alerts/{alert_id}/sent").status_code == 200
    assert server.client.post(f"/alerts/{alert_id}/sent", json={}).status_code == 200
    bad = server.client.post(
        f"/alerts/{alert_id}/sent", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400


def _post_without_content_length(
    server: Server, path: str, *, chunks: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    """A POST as some bridges send it: no Content-Length header at all, and either no body or
    a chunked one. (httpx and http.client's request() always add Content-Length: 0.)"""
    port = server.server.effective_port  # type: ignore[union-attr]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Authorization", f"Bearer {API_KEY}")
        if chunks is not None:
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders(chunks)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    "chunks", [None, b"0\r\n\r\n"], ids=["no_body_no_length", "empty_chunked_body"]
)
def test_marking_sent_without_a_content_length_is_accepted_like_an_empty_post(
    server: Server, database: Database, chunks: bytes | None
) -> None:
    alert_id = AlertStore(database).create(phone=PHONE, message="a", level="alta", source="api")
    status, body = _post_without_content_length(server, f"/alerts/{alert_id}/sent", chunks=chunks)
    assert (status, body) == (200, {"id": alert_id, "status": "sent"})
    assert AlertStore(database).get(alert_id).status == "sent"  # type: ignore[union-attr]
    assert server.client.get("/alerts/pending").json() == {"alerts": []}


def test_marking_sent_with_a_chunked_body_still_wants_json(
    sqlite_server: Server, sqlite_database: Database
) -> None:
    alert_id = AlertStore(sqlite_database).create(
        phone=PHONE, message="a", level="alta", source="api"
    )
    status, body = _post_without_content_length(
        sqlite_server, f"/alerts/{alert_id}/sent", chunks=b"5\r\n{oops\r\n0\r\n\r\n"
    )
    assert status == 400 and body["error"]["code"] == "bad_request"
    assert AlertStore(sqlite_database).get(alert_id).status == "pending"  # type: ignore[union-attr]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_bad_json_is_a_400_and_stores_nothing(
    sqlite_server: Server, sqlite_database: Database, raw: bytes
) -> None:
    response = sqlite_server.client.post(
        "/alert", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert count(sqlite_database, alerts) == 0


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/alert"), ("GET", "/alerts/pending"), ("POST", "/alerts/1/sent")]
)
def test_alert_routes_need_the_api_key(sqlite_server: Server, method: str, path: str) -> None:
    response = httpx.request(method, f"{sqlite_server.client.base_url}{path}", json={}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_due_alert_nudges_the_scheduler_when_a_gateway_is_configured(database: Database) -> None:
    s = Server(database, whatsapp="console")
    try:
        s.client.post("/alert", json={"phone": PHONE, "message": "Helada", "level": "alta"})
        s.client.post(
            "/alert",
            json={"phone": PHONE, "message": "Luego", "scheduled_at": "2099-01-01T00:00:00Z"},
        )
    finally:
        s.close()
    assert [(id, type(m)) for id, m in s.supervisor.told] == [("alerts", Tick)]


def test_routes_answer_503_until_the_database_is_open() -> None:
    s = Server(None)
    try:
        response = s.client.get("/alerts/pending")
    finally:
        s.close()
    assert response.status_code == 503 and response.json()["error"]["code"] == "not_ready"
