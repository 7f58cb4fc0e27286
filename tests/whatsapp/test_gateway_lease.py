"""The WAHA session's lease as an operator sees it: agrochat in this process against the fake
WAHA. Alone on its database it owns the session from the start, and /health, /debug/actors and
/metrics say so; while another process holds the lease it stands by (healthy, no socket) and
takes the session over, catching up what was written meanwhile, once the lease is free."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrochat.persistence import LeaseStore, open_database
from tests.whatsapp._agrochat import OPERATOR_TOKEN, eventually, running_agrochat
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, chat_of

ROSA = "51987654321"
OTHER = "campo-2:77:ffffff"
LEASE = "gateway:waha:default"


def test_a_lone_process_owns_its_session_and_says_so(
    tmp_path: Path, database_url: str, fake_waha: FakeWaha
) -> None:
    with running_agrochat(
        tmp_path, database_url, whatsapp="waha", waha_url=fake_waha.url, waha_api_key=API_KEY
    ) as running:
        assert fake_waha.wait_connected(timeout_s=10)
        # (Not ready: there is no model file; the rules answer.)
        health = eventually(lambda: (h := running.health())["gateway"].endswith("working") and h)
        assert health, running.health()
        assert health["gateway_leases"] == {"default": "owned"}
        process = health["process"]
        assert process.count(":") == 2
        debug = running.client.get(
            "/debug/actors", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        ).json()
        assert debug["process"]["id"] == process
        assert [lease["name"] for lease in debug["process"]["leases"]] == [LEASE]
        membership = next(a for a in debug["actors"] if a["id"] == "membership")
        assert membership["alive"]
        # Its own snapshot too, unless it was busy with a heartbeat just then.
        assert membership["state"].get("process", process) == process
        metrics = running.client.get("/metrics").text
        assert 'agrochat_gateway_owned{channel="default"} 1.0' in metrics
        assert "agrochat_processes_alive 1.0" in metrics
    # Stopped cleanly: the lease is free for the next process at once.
    db = open_database(database_url)
    try:
        assert LeaseStore(db).get(LEASE) is None
    finally:
        db.close()
        db.engine.dispose()


@pytest.mark.postgres
def test_a_standby_connects_nothing_and_takes_over_once_the_lease_is_free(
    tmp_path: Path, postgres_url: str, fake_waha: FakeWaha
) -> None:
    db = open_database(postgres_url)
    leases = LeaseStore(db)
    leases.acquire(LEASE, OTHER, 600)
    try:
        with running_agrochat(
            tmp_path,
            postgres_url,
            whatsapp="waha",
            waha_url=fake_waha.url,
            waha_api_key=API_KEY,
            heartbeat_s=0.2,
            lease_ttl_s=1.0,
        ) as running:
            health = running.health()
            # Standing by is no reason to be unready (only the missing model file is).
            assert health["reasons"] == ["model: failed"], health
            assert health["gateway_leases"] == {"default": "standby"}
            assert health["gateway"] == "waha default: standby"
            metrics = running.client.get("/metrics").text
            assert 'agrochat_gateway_owned{channel="default"} 0.0' in metrics
            # Rosa writes while the owner is gone and this one stands by: no one hears it.
            fake_waha.push_message(ROSA, "¿cuándo riego mi papa?")
            assert fake_waha.ws_attempts == 0 and fake_waha.sent_texts == []
            leases.release(LEASE, OTHER)
            assert fake_waha.wait_connected(timeout_s=10)
            assert fake_waha.wait_sent(1, timeout_s=20)  # the takeover's catch-up found her
            assert [s["chatId"] for s in fake_waha.sent_texts] == [chat_of(ROSA)]
            health = eventually(
                lambda: (h := running.health())["gateway_leases"]["default"] == "owned" and h
            )
            assert health and health["gateway"] == "waha default: working"
            assert leases.get(LEASE).holder == health["process"]  # type: ignore[union-attr]
    finally:
        db.close()
        db.engine.dispose()
