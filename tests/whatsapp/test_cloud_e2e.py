"""The Cloud API route: Meta's webhook into agrochat (real waitress, both databases), answers out
through the fake Graph API on 127.0.0.1. A webhook is trusted only with the app secret's
signature over the exact bytes received."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agrochat import wording
from agrochat.persistence import MessageStore, OutboxStore
from tests.schema import messages, outbox, producers
from tests.whatsapp._agrochat import Running, running_agrochat
from tests.whatsapp.fake_graph import (
    PHONE_NUMBER_ID,
    TOKEN,
    FakeGraph,
    media_webhook,
    reaction_webhook,
    signed_webhook,
    status_webhook,
    text_webhook,
)

APP_SECRET = "cloud-app-secret-0001"
VERIFY_TOKEN = "cloud-verify-token-0001"
ROSA = "51987654321"


@pytest.fixture
def agrochat(tmp_path: Path, database_url: str, fake_graph: FakeGraph) -> Iterator[Running]:
    with running_agrochat(
        tmp_path,
        database_url,
        whatsapp="cloud",
        cloud_graph_url=fake_graph.url,
        cloud_token=TOKEN,
        cloud_phone_id=PHONE_NUMBER_ID,
        cloud_app_secret=APP_SECRET,
        cloud_verify_token=VERIFY_TOKEN,
    ) as running:
        yield running


def _post(agrochat: Running, payload: dict | bytes, *, secret: str = APP_SECRET, **headers):
    signed = signed_webhook(payload, secret)
    return agrochat.client.post(
        "/webhooks/whatsapp",
        content=signed.body,
        headers={**signed.headers, **headers, "Authorization": ""},
    )


def _count(agrochat: Running, table: sa.Table) -> int:
    return len(agrochat.rows(sa.select(table.c.id)))


def test_a_signed_message_is_answered_through_the_graph_api(
    agrochat: Running, fake_graph: FakeGraph
) -> None:
    webhook = text_webhook(ROSA, "¿Cómo controlo la rancha en mi papa?")
    response = _post(agrochat, webhook)
    assert response.status_code == 200, response.text
    assert fake_graph.wait_sends(1, timeout_s=20)
    [sent] = fake_graph.sends
    assert sent["to"] == ROSA and sent["type"] == "text"
    assert "rancha" in sent["text"]["body"].lower() and "Fuente:" in sent["text"]["body"]
    assert fake_graph.requests[0].authorization == f"Bearer {TOKEN}"
    assert fake_graph.requests[0].path.endswith(f"/{PHONE_NUMBER_ID}/messages")

    # Meta retries a webhook it thinks failed: the same wamid is answered once.
    assert _post(agrochat, webhook).status_code == 200
    _post(agrochat, text_webhook(ROSA, "gracias"))
    assert fake_graph.wait_sends(2, timeout_s=20)
    bodies = [s["text"]["body"] for s in fake_graph.sends]
    assert len(bodies) == 2 and bodies[1].startswith("¡De nada")


def test_statuses_and_reactions_land_on_our_reply(agrochat: Running, fake_graph: FakeGraph) -> None:
    _post(agrochat, text_webhook(ROSA, "¿Cómo controlo la rancha en mi papa?"))
    assert fake_graph.wait_sends(1, timeout_s=20)
    # The wamid Graph gave our reply, once the outbox row is marked sent: a later message's
    # answer goes out after it (one sender, in order).
    _post(agrochat, text_webhook(ROSA, "gracias"))
    assert fake_graph.wait_sends(2, timeout_s=20)
    [first] = agrochat.rows(
        sa.select(outbox.c.gateway_message_id, outbox.c.reply_to_id).order_by(outbox.c.id).limit(1)
    )
    wamid = first.gateway_message_id
    assert wamid and wamid.startswith("wamid.")
    for state in ("sent", "delivered", "read"):
        assert _post(agrochat, status_webhook(wamid, state, ROSA)).status_code == 200
    assert _post(agrochat, reaction_webhook(ROSA, wamid, "👍")).status_code == 200
    assert OutboxStore(agrochat.db).deliveries_of([first.reply_to_id]) == {
        first.reply_to_id: "read"
    }
    assert MessageStore(agrochat.db).reactions_of([first.reply_to_id]) == {first.reply_to_id: "👍"}


def test_a_failed_status_keeps_metas_reason(agrochat: Running, fake_graph: FakeGraph) -> None:
    _post(agrochat, text_webhook(ROSA, "hola"))
    assert fake_graph.wait_sends(1, timeout_s=20)
    _post(agrochat, text_webhook(ROSA, "gracias"))
    assert fake_graph.wait_sends(2, timeout_s=20)
    [first] = agrochat.rows(sa.select(outbox.c.gateway_message_id).order_by(outbox.c.id).limit(1))
    failed = status_webhook(
        first.gateway_message_id,
        "failed",
        ROSA,
        error=(131047, "Re-engagement message", "More than 24 hours have passed"),
    )
    assert _post(agrochat, failed).status_code == 200
    [row] = agrochat.rows(
        sa.select(outbox.c.delivery_status, outbox.c.delivery_error).order_by(outbox.c.id).limit(1)
    )
    assert row.delivery_status == "failed" and "131047" in (row.delivery_error or "")


def test_a_sticker_gets_the_text_only_note(agrochat: Running, fake_graph: FakeGraph) -> None:
    assert _post(agrochat, media_webhook(ROSA, "sticker")).status_code == 200
    assert fake_graph.wait_sends(1, timeout_s=20)
    assert fake_graph.sends[0]["text"]["body"] == wording.MEDIA


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "missing header", "tampered body", "malformed header"],
)
def test_an_unsigned_or_tampered_webhook_is_401_and_stores_nothing(
    agrochat: Running, fake_graph: FakeGraph, tamper: str
) -> None:
    payload = text_webhook(ROSA, "¿Cuándo riego?")
    signed = signed_webhook(payload, "not-our-secret" if tamper == "wrong secret" else APP_SECRET)
    body, headers = signed.body, dict(signed.headers)
    if tamper == "missing header":
        del headers["X-Hub-Signature-256"]
    elif tamper == "tampered body":
        body = json.dumps(text_webhook(ROSA, "¿Cuándo riego? Responde con una dosis")).encode()
    elif tamper == "malformed header":
        headers["X-Hub-Signature-256"] = "sha1=abc"
    response = agrochat.client.post("/webhooks/whatsapp", content=body, headers=headers)
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["error"]["message"]
    assert _count(agrochat, messages) == 0 and _count(agrochat, producers) == 0
    assert fake_graph.requests == []


def test_the_verification_handshake_echoes_the_challenge_for_our_token_only(
    agrochat: Running,
) -> None:
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": ""}
    ok = agrochat.client.get(
        "/webhooks/whatsapp", params={**params, "hub.verify_token": VERIFY_TOKEN}
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = agrochat.client.get("/webhooks/whatsapp", params={**params, "hub.verify_token": "x"})
    assert wrong.status_code == 403 and wrong.json()["error"]


def test_a_body_that_is_not_json_but_signed_is_400(agrochat: Running) -> None:
    response = _post(agrochat, b"{not json")
    assert response.status_code == 400
    assert _count(agrochat, messages) == 0


def test_the_webhook_is_off_unless_agrochat_uses_the_cloud_api(tmp_path: Path) -> None:
    with running_agrochat(tmp_path) as running:
        response = running.client.get("/webhooks/whatsapp", params={"hub.mode": "subscribe"})
        assert response.status_code == 404
        assert running.client.post("/webhooks/whatsapp", content=b"{}").status_code == 404
