"""The HTTP shell over a real waitress server: credentials, JSON errors, /health, /debug."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import bottle
import httpx
import pykka
import pytest

from agrochat.actors.inference import InferenceActor, ModelStatus
from agrochat.config import Config
from agrochat.http import AppContext, HttpServer, make_app
from agrochat.messages import Inspect
from agrochat.persistence import Database
from agrochat.supervisor import ChildSpec, Supervised, Supervisor, SupervisorEscalation

API_KEY = "test-api-key-0123456789"
OPERATOR_TOKEN = "test-operator-token-0123456789"


class Worker(Supervised, pykka.ThreadingActor):
    """A small actor that can be told to crash, and reports a snapshot of its own."""

    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.handled = 0
        self.started = started

    def on_start(self) -> None:
        self.started.set()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Inspect):
            return self.snapshot()
        if message == "work":
            self.handled += 1
            return self.handled
        # A failure in a tell kills the actor (a failure in an ask goes back to the caller).
        if message == "crash":
            raise RuntimeError("worker crashed on purpose")

    def snapshot(self) -> dict[str, Any]:
        return {"handled": self.handled}


class Harness:
    def __init__(self, db: Database) -> None:
        self.started = threading.Event()
        self.supervisor = Supervisor(
            [ChildSpec(id="worker", start=lambda: Worker.start(self.started))],
            intensity=5,
            period_s=30,
        )
        config = Config(api_key=API_KEY, operator_token=OPERATOR_TOKEN, max_body_bytes=1024)
        self.context = AppContext(config=config, supervisor=self.supervisor, database=db)
        self.app = make_app(self.context)
        self.server = HttpServer(self.app, host="127.0.0.1", port=0, threads=4)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.server.port}", timeout=10)

    def api(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    def operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

    def wait_started(self) -> None:
        assert self.started.wait(5)
        self.started.clear()


@pytest.fixture
def harness(sqlite_database: Database) -> Iterator[Harness]:
    h = Harness(sqlite_database)
    h.supervisor.start()
    h.server.start()
    h.wait_started()
    try:
        yield h
    finally:
        h.client.close()
        h.server.stop()
        h.supervisor.stop()


def _assert_json_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"code", "message"}
    assert "Traceback" not in response.text
    return error


def test_health_needs_no_credentials_and_reports_components(harness: Harness) -> None:
    response = harness.client.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["actors"] == {"worker": "alive"}


def test_health_is_503_with_reasons_when_a_component_fails(harness: Harness) -> None:
    harness.context.health_checks["model"] = lambda: (False, "failed")
    response = harness.client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["model"] == "failed"
    assert "model: failed" in body["reasons"]


MODEL_PATH = "/srv/agrochat/models/qwen2.5-3b-instruct-q4_k_m.gguf"


def test_health_shows_a_failed_model_as_a_word_and_debug_shows_why(
    sqlite_database: Database,
) -> None:
    def missing_model(config: Config) -> Any:
        raise FileNotFoundError(2, "No such file or directory", MODEL_PATH)

    status = ModelStatus()
    supervisor = Supervisor(
        [
            ChildSpec(
                id="inference",
                start=lambda: InferenceActor.start(
                    Config(), status=status, backend_factory=missing_model
                ),
            )
        ],
        intensity=5,
        period_s=30,
    )
    supervisor.start()
    with _served(sqlite_database, supervisor, {"model": status.health}) as client:
        # The actor answers only once on_start is over: by then the model has failed to load.
        supervisor.ref("inference").ask(Inspect(), timeout=5)

        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["model"] == "failed"
        assert "model: failed" in health.json()["reasons"]
        for leak in (MODEL_PATH, "FileNotFoundError", "No such file", "/srv"):
            assert leak not in health.text

        debug = client.get("/debug/actors", headers=_OPERATOR)
        (model,) = debug.json()["actors"]
        assert model["state"]["state"] == "failed"
        assert MODEL_PATH in model["state"]["detail"]
        assert "FileNotFoundError" in model["state"]["detail"]


def test_health_shows_an_escalated_supervisor_as_a_word_and_debug_shows_why(
    sqlite_database: Database,
) -> None:
    def unreadable() -> Any:
        raise PermissionError(13, "Permission denied", "/var/lib/agrochat/secrets.json")

    supervisor = Supervisor([ChildSpec(id="worker", start=unreadable)], intensity=5, period_s=30)
    with pytest.raises(SupervisorEscalation):
        supervisor.start()
    with _served(sqlite_database, supervisor, {}) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert "supervisor: escalated" in health.json()["reasons"]
        for leak in ("secrets.json", "/var/lib", "PermissionError", "Permission denied"):
            assert leak not in health.text

        debug = client.get("/debug/actors", headers=_OPERATOR).json()
        assert "PermissionError" in debug["escalated"]
        assert "/var/lib/agrochat/secrets.json" in debug["escalated"]


def test_a_check_that_returns_a_path_or_raises_shows_only_a_word(harness: Harness) -> None:
    harness.context.health_checks["model"] = lambda: (False, f"failed: {MODEL_PATH}")
    harness.context.health_checks["disk"] = lambda: 1 / 0
    body = harness.client.get("/health").json()
    assert body["model"] == "failed"
    assert body["disk"] == "check_failed"
    assert "ZeroDivisionError" not in str(body)


_OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@contextlib.contextmanager
def _served(db: Database, supervisor: Supervisor, checks: dict[str, Any]) -> Iterator[httpx.Client]:
    config = Config(api_key=API_KEY, operator_token=OPERATOR_TOKEN)
    context = AppContext(config=config, supervisor=supervisor, database=db, health_checks=checks)
    server = HttpServer(make_app(context), host="127.0.0.1", port=0, threads=4)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        server.stop()
        supervisor.stop()


def test_unknown_route_is_json_404(harness: Harness) -> None:
    _assert_json_error(harness.client.get("/nowhere", headers=harness.api()), 404)


def test_wrong_method_is_json_405(harness: Harness) -> None:
    error = _assert_json_error(harness.client.delete("/health"), 405)
    assert error["code"] == "method_not_allowed"


def _protected_routes(app: bottle.Bottle) -> list[tuple[str, str, str]]:
    routes = []
    for route in app.routes:
        auth = route.config.get("auth", "api")
        if auth in ("api", "operator"):
            path = route.rule.replace("<actor_id>", "worker").replace("<alert_id:int>", "1")
            path = path.replace("<alert_id>", "1")
            routes.append((route.method, path, auth))
    return routes


def test_every_protected_route_rejects_missing_and_wrong_credentials(harness: Harness) -> None:
    routes = _protected_routes(harness.app)
    assert ("GET", "/debug/actors", "operator") in routes
    for method, path, _auth in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            response = harness.client.request(method, path, headers=headers)
            _assert_json_error(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"


def test_debug_takes_the_operator_token_not_the_api_key(harness: Harness) -> None:
    _assert_json_error(harness.client.get("/debug/actors", headers=harness.api()), 401)
    assert harness.client.get("/debug/actors", headers=harness.operator()).status_code == 200


def test_machine_routes_take_the_api_key_not_the_operator_token(harness: Harness) -> None:
    _assert_json_error(harness.client.get("/metrics", headers=harness.operator()), 401)
    assert harness.client.get("/metrics", headers=harness.api()).status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400),
        (b"\xff\xfe", {"Content-Type": "application/json"}, 400),
        (b'{"a": 1}', {"Content-Type": "text/plain"}, 415),
        (b'{"a": "' + b"x" * 2048 + b'"}', {"Content-Type": "application/json"}, 413),
    ],
)
def test_malformed_body_to_every_post_route_is_a_json_4xx(
    harness: Harness, body: bytes, headers: dict[str, str], status: int
) -> None:
    for method, path, auth in _protected_routes(harness.app):
        if method != "POST" or path.startswith("/debug"):
            continue
        creds = harness.api() if auth == "api" else harness.operator()
        response = harness.client.post(path, content=body, headers={**creds, **headers})
        _assert_json_error(response, status)


def test_request_id_is_echoed_or_generated(harness: Harness) -> None:
    given = harness.client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = harness.client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32


def test_debug_actors_shows_class_state_and_inbox(harness: Harness) -> None:
    harness.supervisor.ref("worker").ask("work", timeout=5)
    body = harness.client.get("/debug/actors", headers=harness.operator()).json()
    (worker,) = body["actors"]
    assert worker["id"] == "worker"
    assert worker["actor_class"] == "Worker"
    assert worker["alive"] is True
    assert worker["inbox_size"] == 0
    assert worker["restarts"] == 0
    assert worker["state"] == {"handled": 1}


def test_killed_actor_comes_back_and_debug_shows_its_restart_count(harness: Harness) -> None:
    old_urn = harness.supervisor.ref("worker").actor_urn
    harness.supervisor.ref("worker").tell("crash")
    harness.wait_started()
    restarted = _wait_for(lambda: _worker(harness) if _worker(harness)["restarts"] == 1 else None)
    assert restarted["alive"] is True
    assert restarted["urn"] != old_urn
    assert "worker crashed on purpose" in restarted["last_failure"]
    assert harness.supervisor.ref("worker").ask("work", timeout=5) == 1


def test_operator_can_restart_an_actor(harness: Harness) -> None:
    response = harness.client.post("/debug/actors/worker/restart", headers=harness.operator())
    assert response.status_code == 202
    harness.wait_started()
    assert _worker(harness)["restarts"] == 1


def test_restarting_an_unknown_actor_is_json_404(harness: Harness) -> None:
    response = harness.client.post("/debug/actors/nobody/restart", headers=harness.operator())
    _assert_json_error(response, 404)


def _worker(harness: Harness) -> dict[str, Any]:
    body = harness.client.get("/debug/actors", headers=harness.operator()).json()
    return next(a for a in body["actors"] if a["id"] == "worker")


def _wait_for(probe: Any, timeout: float = 5.0) -> Any:
    """Poll an observable condition that has no event to wait on (the supervisor's restart)."""
    done = threading.Event()
    result: list[Any] = []
    deadline = timeout
    while not done.wait(0.02):
        value = probe()
        if value is not None:
            result.append(value)
            done.set()
        deadline -= 0.02
        if deadline <= 0:
            break
    assert result, "condition not reached in time"
    return result[0]


def test_front_answers_json_while_agrochat_starts() -> None:
    from agrochat.http import SwappableApp

    front = SwappableApp()
    server = HttpServer(front, host="127.0.0.1", port=0, threads=2)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["model"] == "loading"
            _assert_json_error(client.post("/agent", json={}), 503)
            front.target = bottle.Bottle()  # the full app, once started, answers from then on
            assert client.get("/health").status_code == 404
    finally:
        server.stop()


def test_health_answers_a_new_connection_while_a_crowd_keeps_theirs_open(harness) -> None:
    # Clients keep their connections open between requests (200 producers' clients, a bridge
    # with a large pool); a balancer's health check comes on a new one, queued behind them.
    crowd = [socket.create_connection(("127.0.0.1", harness.server.port)) for _ in range(150)]
    try:
        response = httpx.get(f"http://127.0.0.1:{harness.server.port}/health", timeout=5)
        assert response.status_code == 200, response.text
    finally:
        for connection in crowd:
            connection.close()
