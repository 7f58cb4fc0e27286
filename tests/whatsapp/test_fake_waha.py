"""The fake WAHA keeps WAHA's contract where WahaClient and WahaEventStream do not look:
subscriptions, the key on every route, the QR's binary form. Raw clients (websocket-client's
``create_connection``, httpx) so nothing of agrochat's is in between."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
import websocket

from tests.whatsapp.fake_waha import API_KEY, FakeWaha

FARMER = "51987654321"


def connect(fake: FakeWaha, query: str) -> websocket.WebSocket:
    return websocket.create_connection(f"ws{fake.url[4:]}/ws?{query}", timeout=5)


def test_only_subscribed_events_of_the_subscribed_session_are_pushed(fake: FakeWaha) -> None:
    statuses = connect(fake, f"x-api-key={API_KEY}&session=default&events=session.status")
    messages = connect(fake, f"x-api-key={API_KEY}&session=other&events=message")
    everything = connect(fake, f"x-api-key={API_KEY}")  # session and events default to "*"
    assert fake.wait_connected(3)

    fake.push_message(FARMER, "hola")
    fake.set_status("SCAN_QR_CODE")

    assert json.loads(statuses.recv())["event"] == "session.status"
    assert [json.loads(everything.recv())["event"] for _ in range(2)] == [
        "message",
        "session.status",
    ]
    # Its session is "other": the first thing it gets is other's message, nothing of default's.
    theirs = fake.push_event("message", fake.message_payload(FARMER, "otra"), session="other")
    assert json.loads(messages.recv())["id"] == theirs["id"]
    for ws in (statuses, messages, everything):
        ws.close()


def test_several_clients_of_one_session_each_get_every_event_even_if_one_vanishes(
    fake: FakeWaha,
) -> None:
    # During a takeover the old owner's socket may linger (or die mid-send) while the new
    # owner's connects: WAHA serves each client on its own.
    old = connect(fake, f"x-api-key={API_KEY}&session=default&events=message")
    new = connect(fake, f"x-api-key={API_KEY}&session=default&events=message")
    assert fake.wait_connected(2)
    first = fake.push_message(FARMER, "hola")
    assert json.loads(old.recv())["id"] == json.loads(new.recv())["id"] == first["id"]

    old.sock.shutdown(socket.SHUT_RDWR)  # killed: no close frame
    second = fake.push_message(FARMER, "¿sigues ahí?")
    assert json.loads(new.recv())["id"] == second["id"]
    assert fake.wait_until(lambda: fake.connected == 1)
    new.close()
    old.close()


def test_events_may_be_listed_comma_separated(fake: FakeWaha) -> None:
    ws = connect(fake, f"x-api-key={API_KEY}&events=message.ack,message")
    assert fake.wait_connected(1)

    fake.set_status("WORKING")  # not subscribed
    fake.push_message(FARMER, "hola")

    assert json.loads(ws.recv())["event"] == "message"
    ws.close()


def test_a_bad_key_gets_the_socket_closed_with_1008(fake: FakeWaha) -> None:
    ws = connect(fake, "x-api-key=nope&session=default")

    opcode, frame = ws.recv_data_frame(control_frame=True)

    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1008 and frame.data[2:] == b"Unauthorized"
    assert fake.ws_refused == 1 and fake.connected == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/sendText"),
        ("POST", "/api/sendSeen"),
        ("POST", "/api/startTyping"),
        ("POST", "/api/stopTyping"),
        ("GET", "/api/sessions/default"),
        ("GET", "/api/default/chats/overview"),
        ("GET", f"/api/default/chats/{FARMER}@c.us/messages"),
        ("GET", "/api/default/auth/qr"),
    ],
)
def test_every_route_answers_401_without_the_key(fake: FakeWaha, method: str, path: str) -> None:
    body = {"session": "default", "chatId": f"{FARMER}@c.us", "text": "x"}
    response = httpx.request(method, f"{fake.url}{path}", json=body if method == "POST" else None)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized", "statusCode": 401}


def test_the_key_may_also_come_in_the_query(fake: FakeWaha) -> None:
    response = httpx.get(f"{fake.url}/api/sessions/default", params={"x-api-key": API_KEY})
    assert response.status_code == 200 and response.json()["status"] == "WORKING"


def test_the_qr_is_a_png_by_default_and_json_only_when_asked(fake: FakeWaha) -> None:
    headers = {"X-Api-Key": API_KEY}
    fake.set_status("SCAN_QR_CODE")

    binary = httpx.get(f"{fake.url}/api/default/auth/qr", headers=headers)
    as_json = httpx.get(
        f"{fake.url}/api/default/auth/qr",
        headers={**headers, "Accept": "application/json"},
    )
    raw = httpx.get(f"{fake.url}/api/default/auth/qr", params={"format": "raw"}, headers=headers)

    assert binary.headers["content-type"] == "image/png"
    assert binary.content.startswith(b"\x89PNG")
    assert as_json.json()["mimetype"] == "image/png"
    assert raw.json() == {"value": fake.qr_value()}


def test_sendtext_answers_201_with_the_sent_message_and_422_while_not_working(
    fake: FakeWaha,
) -> None:
    headers = {"X-Api-Key": API_KEY}
    body = {"session": "default", "chatId": f"{FARMER}@c.us", "text": "Hola"}

    sent = httpx.post(f"{fake.url}/api/sendText", json=body, headers=headers)
    fake.set_status("STARTING")
    refused = httpx.post(f"{fake.url}/api/sendText", json=body, headers=headers)

    assert sent.status_code == 201
    assert sent.json()["id"]["_serialized"].startswith(f"true_{FARMER}@c.us_")
    assert sent.json()["fromMe"] is True and sent.json()["body"] == "Hola"
    assert refused.status_code == 422
    assert refused.json()["status"] == "STARTING" and refused.json()["expected"] == ["WORKING"]
    assert fake.sent_texts == [body]


@pytest.fixture
def fake(fake_waha: FakeWaha) -> FakeWaha:
    return fake_waha
