"""Inbox: a gateway's message is stored before its session hears of it, once per gateway id;
receipts and reactions land on the rows they are about. Both databases."""

from __future__ import annotations

import datetime as dt
import threading

from agrochat.actors.whatsapp import (
    DeliveryStatus,
    GatewayState,
    InboundMessage,
    Inbox,
    Reaction,
    SessionStatus,
)
from agrochat.messages import Incoming
from agrochat.persistence import (
    Database,
    MessageStore,
    OutboxStore,
    ProducerStore,
    StoredMessage,
    open_database,
    utcnow,
)

PHONE = "51987654321"


def message(
    text: str = "¿Cuándo riego?",
    *,
    message_id: str = "false_51987654321@c.us_AAA",
    session: str = "default",
    media_type: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        source="waha",
        session=session,
        chat_id=f"{PHONE}@c.us",
        phone=PHONE,
        message_id=message_id,
        text=text,
        timestamp=utcnow().timestamp(),
        has_media=media_type is not None,
        media_type=media_type,
    )


class Handed:
    def __init__(self) -> None:
        self.incoming: list[Incoming] = []

    def __call__(self, incoming: Incoming) -> None:
        self.incoming.append(incoming)


def _stored(db: Database, message_id: str = "false_51987654321@c.us_AAA") -> StoredMessage | None:
    producer = ProducerStore(db).get(PHONE)
    assert producer is not None
    return MessageStore(db).by_gateway_id(producer.id, message_id)


def _inbox(db: Database, state: GatewayState | None = None) -> tuple[Inbox, Handed]:
    handed = Handed()
    return Inbox(db, deliver=handed, state=state), handed


def test_a_message_is_stored_received_and_handed_to_its_session(database: Database) -> None:
    inbox, handed = _inbox(database)
    accepted = inbox.accept(message())
    assert accepted is not None and not accepted.taken_over
    stored = _stored(database)
    assert stored is not None and stored.status == "received" and stored.text == "¿Cuándo riego?"
    assert [(i.phone, i.message_id, i.source) for i in handed.incoming] == [
        (PHONE, "false_51987654321@c.us_AAA", "waha")
    ]


def test_the_producer_is_answered_through_the_number_they_wrote_to(database: Database) -> None:
    inbox, _ = _inbox(database)
    inbox.accept(message(session="norte"))
    producer = ProducerStore(database).get(PHONE)
    assert producer is not None and producer.channel == "norte"
    inbox.accept(message("otra", message_id="false_x_2", session="sur"))
    producer = ProducerStore(database).get(PHONE)
    assert producer is not None and producer.channel == "sur"


def test_an_answered_message_delivered_again_is_dropped(database: Database) -> None:
    inbox, handed = _inbox(database)
    inbox.accept(message())
    stored = _stored(database)
    assert stored is not None
    MessageStore(database).record_reply(
        stored.id, "respuesta", producer_id=stored.producer_id, status="answered", role="consulta"
    )
    assert inbox.accept(message()) is None
    assert len(handed.incoming) == 1 and inbox.duplicates == 1


def test_a_message_seen_again_before_its_answer_is_not_handed_over_twice(
    database: Database,
) -> None:
    inbox, handed = _inbox(database)
    inbox.accept(message())
    # The catch-up and the socket bring the same message while its session is answering.
    assert inbox.accept(message()) is None
    assert [i.message_id for i in handed.incoming] == ["false_51987654321@c.us_AAA"]
    producer = ProducerStore(database).get(PHONE)
    assert producer is not None
    assert MessageStore(database).history(producer.id, limit=10).total == 1


def test_a_photo_is_stored_with_its_media_type(database: Database) -> None:
    inbox, _ = _inbox(database)
    inbox.accept(message("mira esta hoja", media_type="image"))
    stored = _stored(database)
    assert stored is not None and stored.media_type == "image"


def test_a_taken_over_producer_gets_no_typing_from_the_assistant(database: Database) -> None:
    inbox, handed = _inbox(database)
    producer, _ = ProducerStore(database).get_or_create(PHONE)
    ProducerStore(database).update(producer.id, taken_over=True, taken_over_by="admin:ana")
    accepted = inbox.accept(message())
    assert accepted is not None and accepted.taken_over
    # Still handed over: the session stores it for the team, in order.
    assert len(handed.incoming) == 1


def test_a_lost_hand_over_keeps_the_message_for_the_sweep(database: Database) -> None:
    def restarting(incoming: Incoming) -> None:
        raise RuntimeError("sessions restarting")

    inbox = Inbox(database, deliver=restarting)
    assert inbox.accept(message()) is not None
    waiting = inbox.waiting()
    assert [(i.phone, i.message_id) for i in waiting] == [(PHONE, "false_51987654321@c.us_AAA")]
    # Only messages stored long enough ago count when asked so.
    assert inbox.waiting(older_than_s=3600) == []


def test_the_sweep_may_ask_only_for_the_producers_of_some_numbers(database: Database) -> None:
    inbox = Inbox(database, deliver=Handed())
    producers = ProducerStore(database)
    inbox.accept(message())  # Rosa writes to "default"
    juan, _ = producers.get_or_create("51912345678")  # no number yet: the default one
    MessageStore(database).add_inbound(juan.id, "hola", gateway_message_id="false_juan_1")
    ana, _ = producers.get_or_create("51955555555")
    producers.update(ana.id, channel="ventas")
    MessageStore(database).add_inbound(ana.id, "hola", gateway_message_id="false_ana_1")

    def phones(channels: set[str] | None) -> list[str]:
        found = inbox.waiting(channels=channels, default_channel="default")
        return sorted(i.phone for i in found)

    assert phones(None) == sorted([PHONE, "51912345678", "51955555555"])
    assert phones({"default"}) == sorted([PHONE, "51912345678"])
    assert phones({"ventas"}) == ["51955555555"]


def test_messages_older_than_a_day_are_not_worth_handing_over(database: Database) -> None:
    old = utcnow() - dt.timedelta(hours=25)
    inbox = Inbox(database, deliver=Handed(), clock=lambda: old)
    inbox.accept(message())
    assert Inbox(database, deliver=Handed()).waiting() == []


def _sent_reply(database: Database, gateway_id: str) -> int:
    producer, _ = ProducerStore(database).get_or_create(PHONE)
    messages = MessageStore(database)
    inbound = messages.add_inbound(producer.id, "hola")
    reply = messages.record_reply(
        inbound.id, "¡Hola!", producer_id=producer.id, status="answered", role="consulta"
    )
    outbox = OutboxStore(database)
    row = outbox.enqueue(PHONE, "¡Hola!", reply_to_id=reply.id)
    outbox.claim_one(row, 60)
    outbox.mark_sent(row, gateway_id)
    return reply.id


def _status(gateway_id: str, state: str) -> DeliveryStatus:
    return DeliveryStatus(
        source="waha",
        session="default",
        message_id=gateway_id,
        status=state,  # type: ignore[arg-type]
        phone=PHONE,
        timestamp=0.0,
    )


def test_delivery_receipts_move_forward_only(database: Database) -> None:
    inbox, _ = _inbox(database)
    reply_id = _sent_reply(database, "true_51987654321@c.us_OUT")
    inbox.accept(_status("true_51987654321@c.us_OUT", "read"))
    inbox.accept(_status("true_51987654321@c.us_OUT", "delivered"))  # late, out of order
    assert OutboxStore(database).deliveries_of([reply_id]) == {reply_id: "read"}


def test_a_reaction_is_kept_against_our_reply_and_replaced_by_the_next(database: Database) -> None:
    inbox, _ = _inbox(database)
    reply_id = _sent_reply(database, "true_51987654321@c.us_OUT")

    def react(emoji: str, rid: str) -> Reaction:
        return Reaction(
            source="waha",
            session="default",
            phone=PHONE,
            message_id=rid,
            target_message_id="true_51987654321@c.us_OUT",
            emoji=emoji,
            timestamp=0.0,
        )

    inbox.accept(react("👎", "r1"))
    inbox.accept(react("👍🏽", "r2"))
    messages = MessageStore(database)
    assert messages.reactions_of([reply_id]) == {reply_id: "👍🏽"}
    assert messages.reaction_counts(since=utcnow() - dt.timedelta(days=1)) == {"👍": 1}
    inbox.accept(react("", "r3"))  # removed
    assert messages.reactions_of([reply_id]) == {}


def test_a_session_status_reaches_the_gateway_state(database: Database) -> None:
    state = GatewayState([("default", "waha")])
    inbox, _ = _inbox(database, state)
    inbox.accept(
        SessionStatus(source="waha", session="default", status="SCAN_QR_CODE", timestamp=0.0)
    )
    status = state.get("default")
    assert status is not None and status.session == "SCAN_QR_CODE"


def test_a_retry_landing_on_another_process_is_stored_and_handed_over_once(
    database_url: str,
) -> None:
    """Meta retries a webhook until it gets a 200, through the load balancer, so the retry
    may land on another process while the first is still storing it: two databases handles
    (two processes) accept the same message at once, and one of them hands it over."""
    first, second = open_database(database_url), open_database(database_url)
    try:
        inboxes = [_inbox(first), _inbox(second)]
        barrier = threading.Barrier(2)
        results: list[object] = [None, None]

        def accept(i: int) -> None:
            barrier.wait()
            results[i] = inboxes[i][0].accept(message())

        threads = [threading.Thread(target=accept, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sum(r is not None for r in results) == 1
        assert sum(len(handed.incoming) for _, handed in inboxes) == 1
        assert sum(inbox.duplicates for inbox, _ in inboxes) == 1
        assert _stored(first) is not None
    finally:
        first.close()
        second.close()
