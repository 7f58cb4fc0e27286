"""WahaClient against the fake WAHA (tests/whatsapp/fake_waha.py): sending, read receipts and
typing, the catch-up endpoints, the QR, and how every failure is classified."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agrochat.actors.whatsapp import (
    ChatSummary,
    InboundMessage,
    TransportError,
    WahaClient,
    make_channels,
)
from agrochat.config import Config
from agrochat.errors import ConfigError
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, running_fake_waha

FARMER = "51987654321"


@pytest.fixture
def client(fake_waha: FakeWaha) -> Iterator[WahaClient]:
    waha = WahaClient(fake_waha.url, api_key=API_KEY, session="default", timeout_s=5)
    yield waha
    waha.close()


def test_send_text_posts_the_chat_id_and_key_and_returns_the_message_id(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    message_id = client.send(FARMER, "Hola")

    assert message_id is not None and message_id.startswith(f"true_{FARMER}@c.us_3EB0")
    [call] = fake_waha.calls_to("/api/sendText")
    assert (call.method, call.key, call.status) == ("POST", API_KEY, 201)
    assert call.body == {"session": "default", "chatId": f"{FARMER}@c.us", "text": "Hola"}


def test_bad_key_is_a_retryable_error(fake_waha: FakeWaha) -> None:
    with pytest.raises(TransportError, match="401") as info:
        WahaClient(fake_waha.url, api_key="wrong-key-123").send(FARMER, "Hola")
    assert info.value.retryable
    assert "wrong-key-123" not in str(info.value)
    assert fake_waha.sent_texts == []


def test_session_not_working_is_a_retryable_error(fake_waha: FakeWaha, client: WahaClient) -> None:
    fake_waha.set_status("SCAN_QR_CODE")
    with pytest.raises(TransportError, match=r"422.*SCAN_QR_CODE") as info:
        client.send(FARMER, "Hola")
    assert info.value.retryable


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (404, False), (500, True)])
def test_other_gateway_errors(
    fake_waha: FakeWaha, client: WahaClient, status: int, retryable: bool
) -> None:
    fake_waha.send_text_error = (status, {"error": "boom"})
    with pytest.raises(TransportError) as info:
        client.send(FARMER, "Hola")
    assert info.value.retryable is retryable


def test_unreachable_gateway_is_a_retryable_error(fake_waha: FakeWaha) -> None:
    url = fake_waha.url
    fake_waha.stop()
    with pytest.raises(TransportError, match="unreachable") as info:
        WahaClient(url, api_key=API_KEY, timeout_s=2).send(FARMER, "Hola")
    assert info.value.retryable


def test_a_slow_gateway_times_out_as_a_retryable_error(fake_waha: FakeWaha) -> None:
    fake_waha.delay_s = 1.0
    slow = WahaClient(fake_waha.url, api_key=API_KEY, timeout_s=0.2)
    with pytest.raises(TransportError, match="unreachable: ReadTimeout") as info:
        slow.send(FARMER, "Hola")
    assert info.value.retryable
    slow.close()


def test_read_receipt_and_typing_go_to_the_farmers_chat(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    client.send_seen(FARMER, message_id=f"false_{FARMER}@c.us_3EB0AA")
    client.start_typing(FARMER)
    client.stop_typing(f"{FARMER}@c.us")

    assert fake_waha.seen == [
        {
            "session": "default",
            "chatId": f"{FARMER}@c.us",
            "messageId": f"false_{FARMER}@c.us_3EB0AA",
        }
    ]
    assert fake_waha.typing == [("start", f"{FARMER}@c.us"), ("stop", f"{FARMER}@c.us")]


def test_typing_while_not_working_is_a_retryable_error(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    fake_waha.set_status("STARTING")
    with pytest.raises(TransportError, match="422") as info:
        client.start_typing(FARMER)
    assert info.value.retryable


def test_session_status_is_read_from_the_sessions_api(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    assert client.session_status() == "WORKING"
    fake_waha.set_status("FAILED")
    assert client.session_status() == "FAILED"


def test_chats_overview_lists_chats_with_their_last_message_most_recent_first(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    now = int(time.time())
    fake_waha.push_message(FARMER, "antes", timestamp=now - 7200)
    fake_waha.push_message("51911222333", "después", timestamp=now - 60)

    overview = client.chats_overview(limit=10)

    assert overview == [
        ChatSummary(chat_id="51911222333@c.us", name=None, last_message_at=now - 60),
        ChatSummary(chat_id=f"{FARMER}@c.us", name=None, last_message_at=now - 7200),
    ]
    [call] = fake_waha.calls_to("/api/default/chats/overview")
    assert call.query == {"limit": "10", "offset": "0"}


def test_active_chats_are_the_direct_chats_written_in_since(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    now = int(time.time())
    fake_waha.push_message(FARMER, "reciente", timestamp=now - 60)
    fake_waha.push_message("51911222333", "de ayer", timestamp=now - 30 * 3600)
    fake_waha.push_message("120363025246125888@g.us", "grupo", timestamp=now - 10)

    assert client.active_chats(now - 24 * 3600) == [f"{FARMER}@c.us"]


def test_active_chats_are_read_page_after_page_until_one_ends_before_since(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    now = int(time.time())
    # 7 chats written in the last minute (the newest pushed last), then an old one.
    fake_waha.push_message("51911222333", "de ayer", timestamp=now - 30 * 3600)
    recent = [f"5198765{i:04d}" for i in range(7)]
    for i, phone in enumerate(recent):
        fake_waha.push_message(phone, "hola", timestamp=now - 60 + i)

    chats = client.active_chats(now - 3600, page=3)

    assert chats == [f"{phone}@c.us" for phone in reversed(recent)]
    offsets = [c.query["offset"] for c in fake_waha.calls_to("/api/default/chats/overview")]
    # The third page holds the old chat: no fourth; then the first once more.
    assert offsets == ["0", "3", "6", "0"]


def test_a_chat_that_jumps_to_the_top_while_the_pages_are_read_is_not_missed(
    fake_waha: FakeWaha, client: WahaClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time())
    phones = [f"5198765{i:04d}" for i in range(6)]
    for i, phone in enumerate(phones):
        fake_waha.push_message(phone, "hola", timestamp=now - 60 + i)
    read = client.chats_overview
    pages: list[int] = []

    def overview(*, limit: int = 100, offset: int = 0) -> list:
        pages.append(offset)
        if offset == 3 and len(pages) == 2:
            # Between the first and second page, the oldest chat (due on page 2) gets a message
            # and jumps to the top: page 2 no longer holds it, page 1 was read before it came.
            fake_waha.push_message(phones[0], "otra", timestamp=now)
        return read(limit=limit, offset=offset)

    monkeypatch.setattr(client, "chats_overview", overview)
    assert f"{phones[0]}@c.us" in client.active_chats(now - 3600, page=3)


def test_a_chats_messages_come_oldest_first_without_our_own(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    now = int(time.time())
    first = fake_waha.push_message(FARMER, "uno", timestamp=now - 30)
    fake_waha.push_message(FARMER, "respuesta nuestra", timestamp=now - 20, from_me=True)
    second = fake_waha.push_message(FARMER, "dos", timestamp=now - 10, media_type="image")

    messages = client.chat_messages(f"{FARMER}@c.us", limit=5)

    assert [(m.message_id, m.text, m.media_type) for m in messages] == [
        (first["payload"]["id"], "uno", None),
        (second["payload"]["id"], "dos", "image"),
    ]
    assert all(isinstance(m, InboundMessage) and m.event_id is None for m in messages)
    [call] = fake_waha.calls_to(f"/api/default/chats/{FARMER}@c.us/messages")
    # WAHA downloads media unless told not to: catch-up never needs the files.
    assert call.query == {"limit": "5", "downloadMedia": "false"}


def test_the_chats_messages_limit_keeps_the_newest(fake_waha: FakeWaha, client: WahaClient) -> None:
    now = int(time.time())
    for i in range(5):
        fake_waha.push_message(FARMER, f"m{i}", timestamp=now - 50 + i)

    assert [m.text for m in client.chat_messages(FARMER, limit=2)] == ["m3", "m4"]


def test_recent_messages_gathers_what_every_farmer_wrote_since(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    now = int(time.time())
    fake_waha.push_message(FARMER, "viejo", timestamp=now - 3 * 3600)
    a = fake_waha.push_message(FARMER, "a", timestamp=now - 50)
    b = fake_waha.push_message("51911222333", "b", timestamp=now - 40)
    c = fake_waha.push_message(FARMER, "c", timestamp=now - 30)

    recent = client.recent_messages(now - 3600)

    assert [m.message_id for m in recent] == [e["payload"]["id"] for e in (a, b, c)]


def test_catch_up_while_not_working_is_a_retryable_error(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    fake_waha.set_status("SCAN_QR_CODE")
    with pytest.raises(TransportError, match="422") as info:
        client.recent_messages(0)
    assert info.value.retryable


def test_the_qr_is_none_unless_the_session_waits_for_a_scan(
    fake_waha: FakeWaha, client: WahaClient
) -> None:
    assert client.qr() is None and client.qr_value() is None

    fake_waha.set_status("SCAN_QR_CODE")
    qr = client.qr()
    value = client.qr_value()

    assert qr is not None and qr.mimetype == "image/png"
    assert qr.image.startswith(b"\x89PNG\r\n\x1a\n")
    assert value == fake_waha.qr_value()
    fake_waha.set_status("WORKING")
    assert client.qr() is None


def test_a_new_scan_request_brings_a_new_qr(fake_waha: FakeWaha, client: WahaClient) -> None:
    fake_waha.set_status("SCAN_QR_CODE")
    first = client.qr_value()
    fake_waha.set_status("SCAN_QR_CODE")
    assert client.qr_value() not in (None, first)


def test_make_channels_follows_agrochat_whatsapp() -> None:
    assert make_channels(Config(whatsapp="none")) is None
    console = make_channels(Config(whatsapp="console"))
    assert console is not None and console.default.transport.name == "console"
    waha = make_channels(Config(whatsapp="waha", waha_api_key=API_KEY, waha_session="norte,sur"))
    assert waha is not None and [c.name for c in waha] == ["norte", "sur"]
    assert all(isinstance(c.transport, WahaClient) for c in waha)
    # A number no longer configured is answered from the first one rather than not at all.
    assert waha.get("centro").name == "norte" and waha.get("sur").name == "sur"
    waha.close()


def test_cloud_needs_its_credentials_and_says_which() -> None:
    with pytest.raises(ConfigError, match=r"AGROCHAT_CLOUD_TOKEN.*AGROCHAT_CLOUD_APP_SECRET"):
        make_channels(Config(whatsapp="cloud", cloud_phone_id="1234", cloud_verify_token="v"))
    cloud = make_channels(
        Config(
            whatsapp="cloud",
            cloud_token="t",
            cloud_phone_id="111,222",
            cloud_app_secret="s",
            cloud_verify_token="v",
        )
    )
    assert cloud is not None and [(c.name, c.kind) for c in cloud] == [
        ("111", "cloud"),
        ("222", "cloud"),
    ]
    cloud.close()


def test_status_and_qr_can_be_asked_for_another_session_of_the_same_waha() -> None:
    with running_fake_waha(sessions=("default", "norte")) as fake:
        client = WahaClient(fake.url, api_key=API_KEY, session="default")
        fake.set_status("SCAN_QR_CODE", session="norte")

        assert client.session_status() == "WORKING"
        assert client.session_status("norte") == "SCAN_QR_CODE"
        assert client.qr() is None
        qr = client.qr("norte")
        assert qr is not None and qr.image.startswith(b"\x89PNG")
        assert client.qr_value("norte") == fake.qr_value("norte")
        client.close()
