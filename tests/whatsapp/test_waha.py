"""WahaClient against a fake WAHA gateway: an HTTP server on 127.0.0.1 speaking its send API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agrochat.actors.whatsapp import TransportError, WahaClient, make_transport
from agrochat.config import Config
from agrochat.errors import ConfigError

KEY = "waha-secret-key"


class FakeWaha:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 201
        self.session_status = "WORKING"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "key": self.headers.get("X-Api-Key"), "body": body}
                )
                if self.headers.get("X-Api-Key") != KEY:
                    self._answer(401, {"message": "Unauthorized"})
                elif fake.session_status != "WORKING":
                    self._answer(
                        422,
                        {"error": f"Session status is not as expected: {fake.session_status}"},
                    )
                elif fake.status >= 400:
                    self._answer(fake.status, {"error": "boom"})
                else:
                    chat = body["chatId"]
                    self._answer(201, {"id": {"_serialized": f"true_{chat}_3EB0ABC"}})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits for the loop's next look.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )


@pytest.fixture
def waha() -> Iterator[FakeWaha]:
    fake = FakeWaha()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def test_send_text_posts_the_chat_id_and_key_and_returns_the_message_id(waha: FakeWaha) -> None:
    client = WahaClient(waha.url, api_key=KEY, session="default")
    assert client.send("51987654321", "Hola") == "true_51987654321@c.us_3EB0ABC"
    assert waha.requests == [
        {
            "path": "/api/sendText",
            "key": KEY,
            "body": {"session": "default", "chatId": "51987654321@c.us", "text": "Hola"},
        }
    ]
    client.close()


def test_bad_key_is_a_retryable_error(waha: FakeWaha) -> None:
    client = WahaClient(waha.url, api_key="wrong-key-123")
    with pytest.raises(TransportError, match="401") as info:
        client.send("51987654321", "Hola")
    assert info.value.retryable
    assert "wrong-key-123" not in str(info.value)


def test_session_not_working_is_a_retryable_error(waha: FakeWaha) -> None:
    waha.session_status = "SCAN_QR_CODE"
    client = WahaClient(waha.url, api_key=KEY)
    with pytest.raises(TransportError, match=r"422.*SCAN_QR_CODE") as info:
        client.send("51987654321", "Hola")
    assert info.value.retryable


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (404, False), (500, True)])
def test_other_gateway_errors(waha: FakeWaha, status: int, retryable: bool) -> None:
    waha.status = status
    with pytest.raises(TransportError) as info:
        WahaClient(waha.url, api_key=KEY).send("51987654321", "Hola")
    assert info.value.retryable is retryable


def test_unreachable_gateway_is_a_retryable_error(waha: FakeWaha) -> None:
    url = waha.url
    waha.server.shutdown()
    waha.server.server_close()
    with pytest.raises(TransportError, match="unreachable") as info:
        WahaClient(url, api_key=KEY, timeout_s=2).send("51987654321", "Hola")
    assert info.value.retryable


def test_make_transport_follows_agrochat_whatsapp() -> None:
    assert make_transport(Config(whatsapp="none")) is None
    assert make_transport(Config(whatsapp="console")).name == "console"  # type: ignore[union-attr]
    waha = make_transport(Config(whatsapp="waha", waha_api_key=KEY))
    assert isinstance(waha, WahaClient)
    waha.close()
    with pytest.raises(ConfigError):
        make_transport(Config(whatsapp="cloud"))
