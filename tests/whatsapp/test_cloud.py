"""Cloud API: the webhook handshake and signature, the webhook body, and CloudClient against the
fake Graph API over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agrochat.actors.whatsapp import (
    CloudClient,
    DeliveryStatus,
    InboundMessage,
    Reaction,
    TransportError,
    check_signature,
    graph_error,
    parse_webhook,
    verify_subscription,
)
from agrochat.errors import BadRequest, Forbidden
from tests.whatsapp.fake_graph import (
    API_VERSION,
    PHONE_NUMBER_ID,
    TOKEN,
    FakeGraph,
    audio_webhook,
    media_webhook,
    reaction_webhook,
    signed_webhook,
    status_webhook,
    text_webhook,
    webhook,
)

SECRET = "app-secret-0123456789"
VERIFY = "verify-token-abc"
FARMER = "51987654321"


@pytest.fixture
def cloud(fake_graph: FakeGraph) -> Iterator[CloudClient]:
    client = CloudClient(
        PHONE_NUMBER_ID, token=TOKEN, api_version=API_VERSION, base_url=fake_graph.url, timeout_s=5
    )
    yield client
    client.close()


@pytest.fixture
def peruvian_template_cloud(fake_graph: FakeGraph) -> Iterator[CloudClient]:
    client = CloudClient(
        PHONE_NUMBER_ID, token=TOKEN, base_url=fake_graph.url, template_language="es_PE"
    )
    yield client
    client.close()


# -- GET handshake ---------------------------------------------------------------------------


def test_the_handshake_echoes_the_challenge_for_our_verify_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    assert verify_subscription(params, VERIFY) == "1158201444"


@pytest.mark.parametrize(
    ("params", "configured"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}, VERIFY),
        ({"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"}, VERIFY),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, VERIFY),
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY}, VERIFY),
        ({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, ""),
    ],
)
def test_the_handshake_is_refused_with_403(params: dict[str, str], configured: str) -> None:
    with pytest.raises(Forbidden) as info:
        verify_subscription(params, configured)
    assert info.value.status == 403


# -- signature -------------------------------------------------------------------------------


def test_a_signed_webhook_is_accepted() -> None:
    signed = signed_webhook(text_webhook(FARMER, "hola"), SECRET)
    assert check_signature(signed.body, signed.headers["X-Hub-Signature-256"], SECRET)


def test_a_tampered_body_is_refused() -> None:
    signed = signed_webhook(text_webhook(FARMER, "hola"), SECRET)
    tampered = signed.body.replace(b"hola", b"HOLA")
    assert not check_signature(tampered, signed.headers["X-Hub-Signature-256"], SECRET)


def test_the_signature_is_over_the_raw_bytes_not_the_json() -> None:
    signed = signed_webhook(text_webhook(FARMER, "hola"), SECRET)
    same_json_other_bytes = json.dumps(json.loads(signed.body), indent=2).encode()
    assert not check_signature(same_json_other_bytes, signed.headers["X-Hub-Signature-256"], SECRET)


def test_a_wrong_secret_is_refused() -> None:
    signed = signed_webhook(text_webhook(FARMER, "hola"), "someone-elses-secret")
    assert not check_signature(signed.body, signed.headers["X-Hub-Signature-256"], SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=zz" + "0" * 62,  # not hex
        "sha256=" + "0" * 63,  # too short
        "sha1=" + "0" * 40,
        "0" * 64,  # no scheme
    ],
)
def test_a_missing_or_malformed_header_is_refused(header: str | None) -> None:
    signed = signed_webhook(text_webhook(FARMER, "hola"), SECRET)
    assert not check_signature(signed.body, header, SECRET)


def test_no_app_secret_configured_refuses_everything() -> None:
    signed = signed_webhook(b"{}", "")
    assert not check_signature(signed.body, signed.headers["X-Hub-Signature-256"], "")


# -- webhook body ----------------------------------------------------------------------------


def test_a_text_message_is_read_with_its_wamid_and_receiving_number() -> None:
    body = signed_webhook(
        text_webhook(FARMER, "¿Cuándo riego?", message_id="wamid.ABC", timestamp=1700000000),
        SECRET,
    ).body

    [message] = parse_webhook(body)

    assert message == InboundMessage(
        source="cloud",
        session=PHONE_NUMBER_ID,
        chat_id=FARMER,
        phone=FARMER,
        message_id="wamid.ABC",
        text="¿Cuándo riego?",
        timestamp=1700000000.0,
    )


@pytest.mark.parametrize(
    ("kind", "caption", "has_media", "text"),
    [
        ("image", "mi chacra", True, "mi chacra"),
        ("document", None, True, ""),
        ("audio", None, True, ""),
        ("sticker", None, True, ""),
        ("location", None, False, ""),
    ],
)
def test_other_types_are_flagged_with_their_type(
    kind: str, caption: str | None, has_media: bool, text: str
) -> None:
    [message] = parse_webhook(media_webhook(FARMER, kind, caption))

    assert isinstance(message, InboundMessage)
    assert (message.media_type, message.has_media, message.text) == (kind, has_media, text)


def test_a_quick_reply_button_is_text() -> None:
    payload = webhook(
        {
            "messages": [
                {
                    "from": FARMER,
                    "id": "wamid.B",
                    "timestamp": "1700000000",
                    "type": "button",
                    "button": {"payload": "ok", "text": "Gracias"},
                }
            ]
        }
    )

    [message] = parse_webhook(payload)

    assert isinstance(message, InboundMessage) and message.is_text and message.text == "Gracias"


def test_reactions_name_the_message_reacted_to_and_removal_is_an_empty_emoji() -> None:
    [liked] = parse_webhook(reaction_webhook(FARMER, "wamid.SENT", "👍", message_id="wamid.R1"))
    [removed] = parse_webhook(reaction_webhook(FARMER, "wamid.SENT", None))

    assert liked == Reaction(
        source="cloud",
        session=PHONE_NUMBER_ID,
        phone=FARMER,
        message_id="wamid.R1",
        target_message_id="wamid.SENT",
        emoji="👍",
        timestamp=liked.timestamp,
    )
    assert isinstance(removed, Reaction) and removed.emoji == ""


@pytest.mark.parametrize("state", ["sent", "delivered", "read"])
def test_statuses_become_delivery_states(state: str) -> None:
    [status] = parse_webhook(status_webhook("wamid.OUT", state, FARMER))

    assert isinstance(status, DeliveryStatus)
    assert (status.message_id, status.status, status.phone, status.error) == (
        "wamid.OUT",
        state,
        FARMER,
        None,
    )


def test_a_failed_status_carries_the_apis_reason() -> None:
    error = (131047, "Re-engagement message", "Message failed to send because more than 24 hours")
    [status] = parse_webhook(status_webhook("wamid.OUT", "failed", FARMER, error=error))

    assert isinstance(status, DeliveryStatus) and status.status == "failed"
    assert status.error == (
        "131047: Re-engagement message (Message failed to send because more than 24 hours)"
    )


def test_every_entry_and_change_is_read_in_order_and_other_fields_skipped() -> None:
    first = text_webhook(FARMER, "uno", phone_number_id="111")
    second = text_webhook("51911222333", "dos", phone_number_id="222")
    first["entry"].append(second["entry"][0])
    first["entry"][0]["changes"].insert(0, {"field": "account_update", "value": {"x": 1}})

    events = parse_webhook(first)

    assert [(e.session, e.text) for e in events if isinstance(e, InboundMessage)] == [
        ("111", "uno"),
        ("222", "dos"),
    ]


@pytest.mark.parametrize(
    "message",
    [
        {"from": FARMER, "id": "wamid.S", "timestamp": "1", "type": "system", "system": {}},
        {
            "from": FARMER,
            "id": "wamid.G",
            "timestamp": "1",
            "type": "text",
            "group_id": "G1",
            "text": {"body": "en el grupo"},
        },
        {
            "from": "not-a-phone",
            "id": "wamid.P",
            "timestamp": "1",
            "type": "text",
            "text": {"body": "x"},
        },
    ],
)
def test_system_group_and_unreadable_messages_are_skipped(message: dict[str, object]) -> None:
    assert parse_webhook(webhook({"messages": [message]})) == []


def test_a_body_that_is_not_a_json_object_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        parse_webhook(b"not json")
    with pytest.raises(BadRequest):
        parse_webhook(b"[]")
    assert parse_webhook(b'{"object": "page", "entry": []}') == []


# -- CloudClient -----------------------------------------------------------------------------


def test_a_text_goes_to_the_numbers_messages_endpoint_with_the_bearer_token(
    fake_graph: FakeGraph, cloud: CloudClient
) -> None:
    message_id = cloud.send(f"+{FARMER}", "Riegue por la tarde.")

    assert message_id is not None and message_id.startswith("wamid.")
    [request] = fake_graph.requests
    assert request.path == f"/{API_VERSION}/{PHONE_NUMBER_ID}/messages"
    assert request.authorization == f"Bearer {TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": FARMER,
        "type": "text",
        "text": {"preview_url": False, "body": "Riegue por la tarde."},
    }


def test_a_template_goes_with_its_name_language_and_the_text_as_its_parameter(
    fake_graph: FakeGraph, peruvian_template_cloud: CloudClient
) -> None:
    message_id = peruvian_template_cloud.send(FARMER, "Helada esta noche", template="alerta_agro")

    assert message_id is not None
    assert fake_graph.sends[0]["type"] == "template"
    assert fake_graph.sends[0]["template"] == {
        "name": "alerta_agro",
        "language": {"code": "es_PE"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Helada esta noche"}]}
        ],
    }


def test_a_template_without_parameters_sends_name_and_language_only(
    fake_graph: FakeGraph,
) -> None:
    client = CloudClient(
        PHONE_NUMBER_ID, token=TOKEN, base_url=fake_graph.url, template_text_param=False
    )
    client.send(FARMER, "ignorado", template="hello_world")
    client.close()

    assert fake_graph.sends[0]["template"] == {"name": "hello_world", "language": {"code": "es"}}


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, 130429, "(#130429) Rate limit hit"),
        (400, 131048, "(#131048) Spam rate limit hit"),
        (400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"),
        (400, 80007, "(#80007) Rate limit issues"),
        (400, 4, "(#4) Application request limit reached"),
        (500, 131000, "Something went wrong"),
        (503, 133004, "Server temporarily unavailable"),
        (429, 9999, "an unknown throttling code"),
    ],
)
def test_rate_limits_and_outages_are_retryable(
    fake_graph: FakeGraph, cloud: CloudClient, status: int, code: int, message: str
) -> None:
    fake_graph.fail_next(code, message, status=status)

    with pytest.raises(TransportError) as info:
        cloud.send(FARMER, "hola")

    assert info.value.retryable
    assert str(code) in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(
    ("code", "message", "details"),
    [
        (100, "(#100) Invalid parameter", "Parameter 'to' is invalid"),
        (131026, "Message Undeliverable", "Unable to deliver message"),
        (132001, "Template name does not exist in the translation", "template not found"),
        (131051, "Unsupported message type", None),
    ],
)
def test_other_errors_are_final_with_the_apis_message_as_the_reason(
    fake_graph: FakeGraph, cloud: CloudClient, code: int, message: str, details: str | None
) -> None:
    fake_graph.fail_next(code, message, details=details)

    with pytest.raises(TransportError) as info:
        cloud.send(FARMER, "hola")

    assert not info.value.retryable
    assert str(info.value).startswith(f"Cloud API error {code}: {message}")
    if details:
        assert details in str(info.value)


def test_outside_the_24_hour_window_a_text_is_final_and_says_why(
    fake_graph: FakeGraph, cloud: CloudClient
) -> None:
    fake_graph.fail_next(131047, "Re-engagement message", details="more than 24 hours")

    with pytest.raises(TransportError) as info:
        cloud.send(FARMER, "hola")

    assert not info.value.retryable
    assert "24 h" in str(info.value) and "template" in str(info.value)


def test_a_refused_token_is_retryable_and_never_logged(fake_graph: FakeGraph) -> None:
    client = CloudClient(PHONE_NUMBER_ID, token="EAAG-wrong-token-77", base_url=fake_graph.url)

    with pytest.raises(TransportError) as info:
        client.send(FARMER, "hola")
    client.close()

    assert info.value.retryable
    assert "AGROCHAT_CLOUD_TOKEN" in str(info.value) and "wrong-token" not in str(info.value)
    assert fake_graph.sends == []


def test_an_unreachable_or_slow_graph_api_is_retryable(fake_graph: FakeGraph) -> None:
    fake_graph.delay_s = 1.0
    slow = CloudClient(PHONE_NUMBER_ID, token=TOKEN, base_url=fake_graph.url, timeout_s=0.2)
    with pytest.raises(TransportError, match="unreachable") as info:
        slow.send(FARMER, "hola")
    assert info.value.retryable
    slow.close()

    url = fake_graph.url
    fake_graph.stop()
    gone = CloudClient(PHONE_NUMBER_ID, token=TOKEN, base_url=url, timeout_s=2)
    with pytest.raises(TransportError, match="unreachable") as info:
        gone.send(FARMER, "hola")
    assert info.value.retryable
    gone.close()


@pytest.mark.parametrize(("status", "retryable"), [(502, True), (429, True), (404, False)])
def test_an_error_without_a_graph_body_is_classified_by_status(
    status: int, retryable: bool
) -> None:
    assert graph_error(status, None).retryable is retryable
    assert graph_error(status, {"unexpected": True}).retryable is retryable


def test_an_audio_message_keeps_its_media_id_and_type() -> None:
    [message] = parse_webhook(audio_webhook(FARMER, "1480352226158913"))

    assert isinstance(message, InboundMessage)
    assert (message.media_type, message.media_source) == ("audio", "1480352226158913")
    assert message.media_mimetype == "audio/ogg; codecs=opus" and message.text == ""
