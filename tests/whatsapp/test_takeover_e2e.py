"""Two ``agrochat serve`` processes on one PostgreSQL (a schema of their own) against the fake
WAHA: exactly one holds the WAHA session's websocket and answers; killed with SIGKILL, the
other takes the session over within the lease's TTL (plus a heartbeat) and answers the next
message. Across a process boundary the only things to wait on are the fake's events and HTTP."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._served import Served
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, chat_of

ROSA = "51987654321"
TTL_S = 3.0
HEARTBEAT_S = 0.5


def _health(served: Served) -> dict[str, Any]:
    return dict(httpx.get(f"http://127.0.0.1:{served.port}/health", timeout=5).json())


def _role(served: Served, timeout_s: float = 30.0) -> str:
    """The role /health gives this process for the session, once it has one."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        leases = _health(served).get("gateway_leases")
        if leases:
            return str(leases["default"])
        time.sleep(0.05)  # another process: polling its /health is all there is
    raise AssertionError(f"no gateway role in /health:\n{served.log_path.read_text()}")


def _health_until(served: Served, key: str, value: Any, timeout_s: float = 30.0) -> None:
    """Poll /health until ``key`` says ``value``."""
    deadline = time.monotonic() + timeout_s
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = _health(served)
        if health.get(key) == value:
            return
        time.sleep(0.05)  # another process: polling its /health is all there is
    raise AssertionError(f"/health {health}:\n{served.log_path.read_text()}")


@pytest.mark.postgres
def test_one_process_owns_the_session_and_the_other_takes_over_when_it_is_killed(
    tmp_path: Path, postgres_url: str, fake_waha: FakeWaha
) -> None:
    env = {
        "AGROCHAT_DATABASE_URL": postgres_url,
        "AGROCHAT_WHATSAPP": "waha",
        "AGROCHAT_WAHA_URL": fake_waha.url,
        "AGROCHAT_WAHA_API_KEY": API_KEY,
        "AGROCHAT_MODEL_PATH": str(tmp_path / "no-model.gguf"),
        "AGROCHAT_API_KEY": "k" * 24,
        "AGROCHAT_OPERATOR_TOKEN": "o" * 24,
        "AGROCHAT_HEARTBEAT_S": str(HEARTBEAT_S),
        "AGROCHAT_LEASE_TTL_S": str(TTL_S),
    }
    # Both at once (they migrate the new schema under PostgreSQL's advisory lock): whichever
    # takes the lease first owns the session.
    processes = [Served(tmp_path, log_name=f"serve-{n}.log", **env) for n in (1, 2)]
    try:
        for served in processes:
            served.first_health(timeout_s=30)
        roles = {_role(served): served for served in processes}
        assert set(roles) == {"owned", "standby"}, roles
        owner, standby = roles["owned"], roles["standby"]
        assert fake_waha.wait_connected(timeout_s=30)
        assert (fake_waha.connected, fake_waha.ws_attempts) == (1, 1)

        fake_waha.push_message(ROSA, "¿Cómo controlo la rancha en mi papa?")
        assert fake_waha.wait_sent(1, timeout_s=30), owner.log_path.read_text()
        # Answered once: the standby neither heard it nor swept it.
        assert not fake_waha.wait_sent(2, timeout_s=1)

        owner.kill()
        killed_at = time.monotonic()
        assert fake_waha.wait_until(
            lambda: fake_waha.ws_attempts == 2 and fake_waha.connected == 1, timeout_s=30
        ), standby.log_path.read_text()
        takeover_s = time.monotonic() - killed_at
        # The lease runs out TTL_S after the last renewal; the standby sees it at its next beat.
        assert takeover_s < TTL_S + HEARTBEAT_S + 1.0, takeover_s
        _health_until(standby, "gateway_leases", {"default": "owned"}, timeout_s=1)
        _health_until(standby, "gateway", "waha default: working")

        fake_waha.push_message(ROSA, "gracias")
        assert fake_waha.wait_sent(2, timeout_s=30), standby.log_path.read_text()
        texts = [s["text"] for s in fake_waha.sent_texts if s["chatId"] == chat_of(ROSA)]
        assert len(texts) == 2
        assert "rancha" in texts[0].lower() and texts[1].startswith("¡De nada")
        assert standby.stop() == 0
    finally:
        for served in processes:
            if served.process.poll() is None:
                served.kill()
