"""OutboxSender within send rates and across numbers: a row over the limit waits in the outbox
(never lost, never ahead of an earlier one of the same producer) and goes out through the number
its producer wrote to."""

from __future__ import annotations

from agrochat.actors.whatsapp import Channel, Channels, OutboxSender, SendRateLimiter
from agrochat.persistence import Database, OutboxStore
from tests.alerts._data import add_producer
from tests.alerts._fakes import RecordingTransport

ROSA, JUAN = "51987654321", "51912345678"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sender(db: Database, transport: RecordingTransport, clock: Clock) -> OutboxSender:
    return OutboxSender(
        OutboxStore(db),
        Channels.single(transport),
        limiter=lambda: SendRateLimiter(
            per_recipient_per_min=6, per_recipient_burst=2, global_per_min=None, clock=clock
        ),
    )


def test_a_burst_to_one_producer_waits_and_keeps_its_order(sqlite_database: Database) -> None:
    db = sqlite_database
    add_producer(db, ROSA)
    add_producer(db, JUAN)
    outbox = OutboxStore(db)
    rows = [outbox.enqueue(ROSA, f"parte {n}") for n in range(1, 5)]
    juan = outbox.enqueue(JUAN, "hola Juan")
    transport, clock = RecordingTransport(), Clock()
    sender = _sender(db, transport, clock)
    for row in [*rows, juan]:
        sender.send(row)
    # Two may go at once to Rosa (the burst); Juan is not held back by her.
    assert [t for _, t, _ in transport.sent] == ["parte 1", "parte 2", "hola Juan"]
    assert sender.retry_in_s is not None and 0 < sender.retry_in_s <= 10
    assert [outbox.get(r).status for r in rows[2:]] == ["pending", "pending"]  # type: ignore[union-attr]
    clock.now += 10  # one more token for Rosa
    sender.drain()
    assert [t for _, t, _ in transport.sent][3:] == ["parte 3"]
    clock.now += 10
    sender.drain()
    assert [t for _, t, _ in transport.sent][3:] == ["parte 3", "parte 4"]
    assert sender.deferred >= 2


def test_a_later_send_does_not_overtake_a_row_waiting_for_the_rate(
    sqlite_database: Database,
) -> None:
    db = sqlite_database
    add_producer(db, ROSA)
    outbox = OutboxStore(db)
    transport, clock = RecordingTransport(), Clock()
    sender = _sender(db, transport, clock)
    first = [outbox.enqueue(ROSA, f"m{n}") for n in range(1, 4)]
    for row in first:
        sender.send(row)
    clock.now += 10  # a token is back, but m3 is still waiting
    later = outbox.enqueue(ROSA, "m4")
    sender.send(later)
    assert [t for _, t, _ in transport.sent] == ["m1", "m2"]
    sender.drain()
    assert [t for _, t, _ in transport.sent] == ["m1", "m2", "m3"]


def test_each_row_goes_out_through_its_number(sqlite_database: Database) -> None:
    db = sqlite_database
    add_producer(db, ROSA)
    norte, sur = RecordingTransport(), RecordingTransport()
    channels = Channels(
        [
            Channel(name="norte", kind="waha", transport=norte),  # type: ignore[arg-type]
            Channel(name="sur", kind="waha", transport=sur),  # type: ignore[arg-type]
        ]
    )
    outbox = OutboxStore(db)
    sender = OutboxSender(outbox, channels)
    sender.send(outbox.enqueue(ROSA, "por el sur", channel="sur"))
    sender.send(outbox.enqueue(ROSA, "sin número", channel=None))
    sender.send(outbox.enqueue(ROSA, "número retirado", channel="centro"))
    assert [t for _, t, _ in sur.sent] == ["por el sur"]
    assert [t for _, t, _ in norte.sent] == ["sin número", "número retirado"]
