"""WAHA's JSON read into events: which messages agrochat answers, and what media looks like.

Payloads come from the fake WAHA's builders, which follow WAHA's ``toWAMessage`` (WEBJS).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agrochat.actors.whatsapp import (
    DeliveryStatus,
    InboundMessage,
    Reaction,
    SessionStatus,
    chat_kind,
    parse_frame,
)
from agrochat.actors.whatsapp._waha_payloads import media_path, parse_ack, parse_message
from tests.whatsapp.fake_waha import message_payload

FARMER = "51987654321"


def envelope(event: str, payload: dict[str, Any], session: str = "default") -> dict[str, Any]:
    return {
        "id": "evt_01hq000000000000000000000a",
        "timestamp": 1741249702485,
        "event": event,
        "session": session,
        "me": {"id": "51900000001@c.us", "pushName": "agrochat"},
        "payload": payload,
        "engine": "WEBJS",
    }


@pytest.mark.parametrize(
    ("chat", "kind"),
    [
        ("51987654321@c.us", "direct"),
        ("51987654321@s.whatsapp.net", "direct"),
        ("120363025246125888@g.us", "group"),
        ("120363170000000000@newsletter", "newsletter"),
        ("status@broadcast", "broadcast"),
        ("123456789012345@lid", "lid"),
        ("51987654321", "other"),
        (None, "other"),
    ],
)
def test_chat_kind_follows_the_chat_id_suffix(chat: object, kind: str) -> None:
    assert chat_kind(chat) == kind


def test_a_text_message_keeps_its_body_ids_and_time() -> None:
    payload = message_payload(FARMER, "¿Cuándo riego?", timestamp=1700000000)

    message = parse_frame(json.dumps(envelope("message", payload)))

    assert message == InboundMessage(
        source="waha",
        session="default",
        chat_id=f"{FARMER}@c.us",
        phone=FARMER,
        message_id=payload["id"],
        text="¿Cuándo riego?",
        timestamp=1700000000.0,
        event_id="evt_01hq000000000000000000000a",
    )
    assert message.is_text


@pytest.mark.parametrize(
    ("media_type", "has_media"),
    [("image", True), ("ptt", True), ("document", True), ("sticker", True), ("location", False)],
)
def test_media_is_flagged_with_its_type_and_only_the_caption_as_text(
    media_type: str, has_media: bool
) -> None:
    payload = message_payload(FARMER, "mi chacra", media_type=media_type)

    message = parse_message(payload, session="default")

    assert message is not None and not message.is_text
    assert (message.media_type, message.has_media) == (media_type, has_media)
    # A location's body is a base64 thumbnail in WEBJS: never taken for the farmer's words.
    assert message.text == ("" if media_type == "location" else "mi chacra")


@pytest.mark.parametrize(
    "change",
    [
        {"fromMe": True},
        {"from": "120363025246125888@g.us"},
        {"from": "status@broadcast"},
        {"from": "120363170000000000@newsletter"},
        {"from": "123456789012345@lid"},
        {"from": "0123@c.us"},  # not a phone number
        {"id": None},
    ],
)
def test_messages_agrochat_must_not_answer_are_dropped(change: dict[str, Any]) -> None:
    payload = {**message_payload(FARMER, "hola"), **change}
    assert parse_message(payload, session="default") is None


def test_whatsapp_system_notifications_are_dropped() -> None:
    payload = message_payload(FARMER, "")
    payload["_data"]["type"] = "e2e_notification"
    assert parse_message(payload, session="default") is None


@pytest.mark.parametrize(
    ("ack", "name", "state"),
    [
        (-1, "ERROR", "failed"),
        (0, "PENDING", "pending"),
        (1, "SERVER", "sent"),
        (2, "DEVICE", "delivered"),
        (3, "READ", "read"),
        (4, "PLAYED", "read"),
    ],
)
def test_acks_map_onto_the_delivery_vocabulary(ack: int, name: str, state: str) -> None:
    payload = {"id": "true_x", "to": f"{FARMER}@c.us", "fromMe": True, "ack": ack}

    by_name = parse_ack({**payload, "ackName": name}, session="s")
    by_number = parse_ack(payload, session="s")

    assert isinstance(by_name, DeliveryStatus) and by_name.status == state
    assert by_number == by_name
    assert by_name.phone == FARMER and (by_name.error is not None) == (state == "failed")


def test_acks_of_messages_we_did_not_send_or_of_groups_are_dropped() -> None:
    theirs = {"id": "false_x", "from": f"{FARMER}@c.us", "fromMe": False, "ackName": "READ"}
    group = {"id": "true_x", "from": "1203@g.us", "to": "1203@g.us", "fromMe": True, "ack": 3}
    assert parse_ack(theirs, session="s") is None
    assert parse_ack(group, session="s") is None


def test_a_reaction_names_the_message_reacted_to_and_removal_is_an_empty_emoji() -> None:
    payload = {
        "id": f"false_{FARMER}@c.us_R1",
        "from": f"{FARMER}@c.us",
        "fromMe": False,
        "timestamp": 1710481111.853,
        "reaction": {"text": "", "messageId": "true_x_Y"},
    }

    reaction = parse_frame(json.dumps(envelope("message.reaction", payload)))

    assert isinstance(reaction, Reaction)
    assert (reaction.target_message_id, reaction.emoji, reaction.phone) == ("true_x_Y", "", FARMER)
    assert reaction.timestamp == 1710481111.853
    own = {**payload, "fromMe": True}
    assert parse_frame(json.dumps(envelope("message.reaction", own))) is None


def test_session_status_reads_the_status_and_the_linked_phone() -> None:
    status = parse_frame(json.dumps(envelope("session.status", {"status": "SCAN_QR_CODE"})))

    assert status == SessionStatus(
        source="waha",
        session="default",
        status="SCAN_QR_CODE",
        timestamp=1741249702.485,  # the envelope's timestamp is in milliseconds
        me="51900000001",
        event_id="evt_01hq000000000000000000000a",
    )


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        json.dumps(envelope("message.any", {"id": "x"})),
        json.dumps(envelope("engine.event", {"event": "x"})),
        json.dumps({"event": "message", "payload": {}}),  # no session
        json.dumps(envelope("session.status", {"status": None})),
    ],
)
def test_frames_agrochat_does_not_act_on_are_none(frame: str) -> None:
    assert parse_frame(frame) is None


def test_a_voice_note_keeps_the_path_of_its_file_and_its_type() -> None:
    payload = message_payload(
        FARMER,
        media_type="ptt",
        media_url="http://localhost:3000/api/files/default/false_51987654321@c.us_3EB0A1.oga",
    )

    message = parse_message(payload, session="default")

    assert message is not None and message.media_type == "ptt"
    # Only the path: WAHA's own base URL (a container's name, its localhost) is not how we
    # reach it, and the key must never follow a host a payload names.
    assert message.media_source == "/api/files/default/false_51987654321@c.us_3EB0A1.oga"
    assert message.media_mimetype == "audio/ogg; codecs=opus"


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "http://attacker.example/steal-the-key",
        "http://localhost:3000/api/sendText",
        "http://localhost:3000/api/files/../sessions/default",
        42,
    ],
)
def test_a_media_url_that_is_not_a_waha_file_is_not_fetched(url: object) -> None:
    assert media_path(url) is None
    payload = message_payload(FARMER, media_type="ptt")
    payload["media"]["url"] = url

    message = parse_message(payload, session="default")

    assert message is not None and message.media_source is None
