"""``agrochat serve`` as a real process: health within a second, signals, a clean stop."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests._served import Served

HEALTH_WITHIN_S = 1.0


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    s = Served(tmp_path, AGROCHAT_API_KEY="k" * 24, AGROCHAT_OPERATOR_TOKEN="o" * 24)
    try:
        yield s
    finally:
        if s.process.poll() is None:
            s.process.kill()
            s.process.wait()


def test_health_answers_within_a_second_of_start(served: Served) -> None:
    elapsed, response = served.first_health()
    assert elapsed < HEALTH_WITHIN_S, f"first /health after {elapsed:.2f} s"
    assert response.headers["content-type"].startswith("application/json")
    assert "database" in response.json()


def test_sigterm_stops_gracefully_with_exit_code_zero(served: Served) -> None:
    served.first_health()
    assert served.stop() == 0
    events = [line["event"] for line in served.lines()]
    assert events.index("http server stopped") < events.index("agrochat stopped")


def test_sigusr1_logs_every_thread(served: Served) -> None:
    served.first_health()
    served.process.send_signal(signal.SIGUSR1)
    httpx.get(f"http://127.0.0.1:{served.port}/health", timeout=5)
    assert served.stop() == 0
    # pykka.debug.log_thread_tracebacks: "Current state of <thread> (ident: <n>):\n<stack>"
    dumps = [
        re.match(r"Current state of (.+) \(ident: \d+\):\n", line["event"])
        for line in served.lines()
        if line.get("logger") == "pykka" and line["level"] == "critical"
    ]
    assert {"MainThread", "http-server"} <= {d.group(1) for d in dumps if d}


def test_generated_secrets_are_never_printed_to_a_stderr_that_is_no_terminal(tmp_path) -> None:
    # Served sends stderr to a file, as a service manager sends it to the journal.
    first = Served(tmp_path)
    first.first_health()
    assert first.stop() == 0
    secrets = json.loads((first.data_dir / "secrets.json").read_text())
    text = first.log_path.read_text()
    assert secrets["api_key"] not in text and secrets["operator_token"] not in text
    [created] = [line for line in first.lines() if line["event"] == "generated credentials"]
    assert created["path"] == str(first.data_dir / "secrets.json")
    assert created["settings"] == ["AGROCHAT_API_KEY", "AGROCHAT_OPERATOR_TOKEN"]

    second = Served(tmp_path)
    second.first_health()
    assert second.stop() == 0
    assert secrets["api_key"] not in second.log_path.read_text()
    assert "generated credentials" not in second.log_path.read_text()


def test_missing_model_is_reported_and_farmers_still_get_vetted_answers(tmp_path) -> None:
    served = Served(
        tmp_path,
        AGROCHAT_MODEL_PATH=str(tmp_path / "missing.gguf"),
        AGROCHAT_API_KEY="k" * 24,
        AGROCHAT_OPERATOR_TOKEN="o" * 24,
    )
    try:
        served.first_health()
        body = _health_when(served, lambda b: b.get("model") == "failed")
        # Anyone may read /health: the word only; the path is for operators, under /debug.
        assert str(tmp_path) not in json.dumps(body) and "missing.gguf" not in json.dumps(body)
        debug = httpx.get(
            f"http://127.0.0.1:{served.port}/debug/actors",
            headers={"Authorization": "Bearer " + "o" * 24},
            timeout=10,
        ).json()
        (model,) = [a for a in debug["actors"] if a["id"] == "inference"]
        assert "missing.gguf" in model["state"]["detail"]
        assert body["database"] == "ok"
        assert set(body["actors"].values()) == {"alive"}
        assert {"inference", "sessions", "alerts"} <= set(body["actors"])
        reply = httpx.post(
            f"http://127.0.0.1:{served.port}/agent",
            json={"phone": "51987654321", "message": "¿Cuándo riego?", "role": "consulta"},
            headers={"Authorization": "Bearer " + "k" * 24},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        # The model only breaks ties between vetted entries: without it, the rules answer.
        output = reply.json()["model_output"]
        assert output["estado"]["respondida"] is True and "Fuente: " in output["respuesta_chat"]
    finally:
        assert served.stop() == 0


def _health_when(served: Served, predicate, timeout_s: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = httpx.get(f"http://127.0.0.1:{served.port}/health", timeout=5).json()
        if predicate(body):
            return body
        time.sleep(0.05)  # another process: its /health is all there is to watch
    raise AssertionError(f"/health never matched; last: {body}")


def _database_open(served: Served, timeout_s: float = 30.0) -> bool:
    """Whether /health reports the database open (the serving lock is taken before it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, response = served.first_health(timeout_s=timeout_s)
        if response.json().get("database") == "ok":
            return True
        # Nothing to wait on across a process boundary but what /health says.
        time.sleep(0.05)
    return False


def test_a_second_agrochat_on_the_same_sqlite_file_is_refused_and_a_crash_frees_it(
    tmp_path,
) -> None:
    first = Served(tmp_path)
    second = third = None
    try:
        assert _database_open(first)
        second = Served(tmp_path, log_name="second.log")
        assert second.process.wait(timeout=30) == 1
        second.log.close()
        log = second.log_path.read_text()
        assert "another agrochat is already serving" in log and "PostgreSQL" in log
        # The first goes on serving; killed outright, it leaves nothing that refuses a restart.
        assert first.first_health()[1].json()["database"] == "ok"
        first.kill()
        third = Served(tmp_path, log_name="third.log")
        assert _database_open(third)
        assert third.stop() == 0
    finally:
        for served in (first, second, third):
            if served is not None and served.process.poll() is None:
                served.process.kill()
                served.process.wait()
