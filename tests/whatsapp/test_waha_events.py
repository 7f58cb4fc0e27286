"""WahaEventStream against the fake WAHA, over a real websocket on 127.0.0.1.

No sleeps: events arrive through queues read with timeouts, the fake's state is awaited on its
condition, and backoff schedules are injected (a gate where a test needs the socket to stay down).
"""

from __future__ import annotations

import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp import web

from agrochat.actors.whatsapp import (
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    Reaction,
    SessionStatus,
    StreamStatus,
    WahaClient,
    WahaEventStream,
    events_url,
    exponential_backoff,
    slow_retry,
)
from tests.whatsapp._server_thread import ServerThread
from tests.whatsapp.fake_waha import API_KEY, UNAUTHORIZED, FakeWaha

FARMER = "51987654321"
TIMEOUT_S = 5.0


class Owner:
    """What the WhatsApp actor will be: it receives events, catch-up calls and state changes."""

    def __init__(self) -> None:
        self.events: queue.Queue[InboundEvent] = queue.Queue()
        self.catch_ups: queue.Queue[float] = queue.Queue()
        self.states: queue.Queue[StreamStatus] = queue.Queue()

    def on_state(self, status: StreamStatus) -> None:
        self.states.put(status)

    def wait_state(self, state: str) -> StreamStatus:
        """The first reported status in ``state`` (earlier ones are skipped)."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            status = self.states.get(timeout=max(0.0, deadline - time.monotonic()))
            if status.state == state:
                return status

    def on_event(self, event: InboundEvent) -> None:
        self.events.put(event)

    def catch_up(self) -> None:
        self.catch_ups.put(time.time())

    def next_event(self) -> InboundEvent:
        return self.events.get(timeout=TIMEOUT_S)

    def next_message(self) -> InboundMessage:
        event = self.next_event()
        assert isinstance(event, InboundMessage), event
        return event

    def wait_catch_up(self) -> None:
        self.catch_ups.get(timeout=TIMEOUT_S)


class Recorded:
    """An injectable backoff schedule that records the attempts it was asked about."""

    def __init__(self, delay_s: float = 0.01, gate: threading.Event | None = None) -> None:
        self.delay_s = delay_s
        self.gate = gate
        self.attempts: list[int] = []
        self.calls: queue.Queue[int] = queue.Queue()
        self.called = threading.Event()

    def __call__(self, attempt: int) -> float:
        self.attempts.append(attempt)
        self.calls.put(attempt)
        self.called.set()
        if self.gate is not None:
            # Holds the stream between attempts: the socket stays down until the test opens it.
            assert self.gate.wait(TIMEOUT_S)
        return self.delay_s


StreamFactory = Callable[..., WahaEventStream]


@pytest.fixture
def owner() -> Owner:
    return Owner()


@pytest.fixture
def make_stream(fake_waha: FakeWaha, owner: Owner) -> Iterator[StreamFactory]:
    streams: list[WahaEventStream] = []

    def make(**kwargs: Any) -> WahaEventStream:
        options: dict[str, Any] = {
            "api_key": API_KEY,
            "on_event": owner.on_event,
            "catch_up": owner.catch_up,
            "on_state": owner.on_state,
            "backoff": Recorded(),
            "auth_backoff": Recorded(),
            "settle_s": 0.05,
        }
        options.update(kwargs)
        url = options.pop("url", fake_waha.url)
        stream = WahaEventStream(url, **options)
        streams.append(stream)
        stream.start()
        return stream

    yield make
    for stream in streams:
        assert stream.stop(), "the stream's threads did not end"


def test_url_names_the_key_the_session_and_the_four_events() -> None:
    url = events_url("http://waha:3000", api_key="k-123", session="agro")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("ws", "waha:3000", "/ws")
    assert parse_qsl(parts.query) == [
        ("x-api-key", "k-123"),
        ("session", "agro"),
        ("events", "message"),
        ("events", "session.status"),
        ("events", "message.ack"),
        ("events", "message.reaction"),
    ]
    assert events_url("https://waha.example/", api_key="", session="s").startswith("wss://")


def test_connects_with_the_documented_query_and_hands_over_a_message(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    stream = make_stream()
    owner.wait_catch_up()
    query = fake_waha.ws_queries[0]
    assert ("x-api-key", API_KEY) in query and ("session", "default") in query
    assert [v for k, v in query if k == "events"] == [
        "message",
        "session.status",
        "message.ack",
        "message.reaction",
    ]

    envelope = fake_waha.push_message(FARMER, "¿Cuándo riego?")

    message = owner.next_message()
    assert message == InboundMessage(
        source="waha",
        session="default",
        chat_id=f"{FARMER}@c.us",
        phone=FARMER,
        message_id=envelope["payload"]["id"],
        text="¿Cuándo riego?",
        timestamp=float(envelope["payload"]["timestamp"]),
        has_media=False,
        media_type=None,
        event_id=envelope["id"],
    )
    assert stream.status().connected and stream.status().events == 1
    assert API_KEY not in stream.safe_url


def test_events_reach_the_owner_in_the_order_waha_sent_them(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    make_stream()
    owner.wait_catch_up()
    sent = [fake_waha.push_message(FARMER, f"mensaje {i}") for i in range(20)]
    fake_waha.set_status("SCAN_QR_CODE")
    fake_waha.push_ack(sent[0]["payload"]["id"], FARMER, ack=3)
    fake_waha.push_reaction(FARMER, "true_x@c.us_ABC", "👍")

    got = [owner.next_event() for _ in range(23)]

    assert [e.text for e in got[:20] if isinstance(e, InboundMessage)] == [
        f"mensaje {i}" for i in range(20)
    ]
    assert [type(e) for e in got[20:]] == [SessionStatus, DeliveryStatus, Reaction]


def test_a_redelivered_event_is_handed_over_again_with_the_same_ids(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    make_stream()
    owner.wait_catch_up()
    envelope = fake_waha.push_message(FARMER, "Hola")
    assert fake_waha.redeliver(envelope) == 1

    first, second = owner.next_message(), owner.next_message()

    # Dedupe is the owner's, against the database: both ids are there to do it with.
    assert first == second
    assert first.message_id == envelope["payload"]["id"] and first.event_id == envelope["id"]


def test_own_group_broadcast_channel_and_hidden_id_messages_are_ignored(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    make_stream()
    owner.wait_catch_up()
    fake_waha.push_message(FARMER, "escrito desde el teléfono", from_me=True)
    fake_waha.push_message("120363025246125888@g.us", "hola grupo")
    fake_waha.push_message("status@broadcast", "mi estado")
    fake_waha.push_message("120363170000000000@newsletter", "canal")
    fake_waha.push_message("123456789012345@lid", "sin número")
    fake_waha.push_message(FARMER, "la pregunta")

    # Events keep their order, so if any of the first five had been handed over it would be
    # the first thing the owner gets.
    assert owner.next_message().text == "la pregunta"
    assert owner.events.empty()


def test_session_status_changes_are_delivered(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    make_stream()
    owner.wait_catch_up()
    for status in ("SCAN_QR_CODE", "WORKING", "FAILED"):
        fake_waha.set_status(status)

    statuses = [owner.next_event() for _ in range(3)]

    assert [s.status for s in statuses if isinstance(s, SessionStatus)] == [
        "SCAN_QR_CODE",
        "WORKING",
        "FAILED",
    ]
    assert all(isinstance(s, SessionStatus) and s.me == "51900000001" for s in statuses)


def test_acks_and_reactions_become_delivery_states_and_reactions(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    make_stream()
    owner.wait_catch_up()
    sent_id = "true_51987654321@c.us_3EB0AAAA"
    for ack in (1, 2, 3, -1):
        fake_waha.push_ack(sent_id, FARMER, ack=ack)
    fake_waha.push_reaction(FARMER, sent_id, "👍")
    fake_waha.push_reaction(FARMER, sent_id, "")

    acks = [owner.next_event() for _ in range(4)]
    liked, removed = owner.next_event(), owner.next_event()

    assert [(a.message_id, a.status, a.phone) for a in acks if isinstance(a, DeliveryStatus)] == [
        (sent_id, "sent", FARMER),
        (sent_id, "delivered", FARMER),
        (sent_id, "read", FARMER),
        (sent_id, "failed", FARMER),
    ]
    assert isinstance(liked, Reaction) and isinstance(removed, Reaction)
    assert (liked.target_message_id, liked.emoji, liked.phone) == (sent_id, "👍", FARMER)
    assert removed.emoji == ""


def test_reconnects_after_a_dropped_socket_and_asks_for_a_catch_up(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    backoff = Recorded()
    stream = make_stream(backoff=backoff)
    owner.wait_catch_up()

    assert fake_waha.drop_socket() == 1

    owner.wait_catch_up()
    assert backoff.attempts == [1]
    assert fake_waha.wait_connected(1)
    status = stream.status()
    assert (status.state, status.connects, status.failures) == ("connected", 2, 0)
    fake_waha.push_message(FARMER, "después del corte")
    assert owner.next_message().text == "después del corte"


def test_messages_written_while_the_socket_was_down_come_back_through_catch_up(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    gate = threading.Event()
    backoff = Recorded(gate=gate)
    make_stream(backoff=backoff)
    owner.wait_catch_up()
    since = time.time() - 60
    fake_waha.drop_socket()
    assert backoff.called.wait(TIMEOUT_S)  # the stream is down, held between attempts

    first = fake_waha.push_message(FARMER, "¿Cuándo riego la papa?")
    second = fake_waha.push_message("51911222333", "Tengo plaga en el maíz")
    assert [reached for _, reached in fake_waha.pushed[-2:]] == [0, 0]  # WAHA keeps nothing

    gate.set()
    owner.wait_catch_up()
    # What the owner does on catch_up: ask the chats API.
    client = WahaClient(fake_waha.url, api_key=API_KEY)
    missed = client.recent_messages(since)
    client.close()

    assert {m.message_id for m in missed} == {first["payload"]["id"], second["payload"]["id"]}
    assert owner.events.empty()


def test_a_refused_key_is_a_configuration_error_retried_on_the_slow_schedule(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    fast, slow = Recorded(), Recorded(delay_s=0.02)
    # A long settle time: a refused socket is closed at once, well before it could settle.
    stream = make_stream(api_key="wrong-key-999", backoff=fast, auth_backoff=slow, settle_s=5)

    status = owner.wait_state("bad_api_key")
    assert [slow.calls.get(timeout=TIMEOUT_S) for _ in range(3)] == [1, 2, 3]
    assert fake_waha.ws_refused >= 3

    assert status.detail is not None and "1008" in status.detail
    assert "Unauthorized" in status.detail and "AGROCHAT_WAHA_API_KEY" in status.detail
    assert fast.attempts == []
    assert owner.catch_ups.empty()
    assert stream.status().state == "bad_api_key"  # not "connecting" between slow retries

    # The key is fixed on WAHA's side: the next slow retry gets in, no restart needed. An
    # event proves the key at once (no waiting out the 5 s settle time).
    fake_waha.set_api_key("wrong-key-999")
    assert fake_waha.wait_connected(1)
    fake_waha.push_message(FARMER, "hola")
    assert owner.wait_state("connected").detail is None
    owner.wait_catch_up()
    assert owner.next_message().text == "hola"


def test_the_slow_schedule_waits_about_a_minute_and_the_fast_one_grows_to_its_cap() -> None:
    rng = random.Random(7)
    slow = slow_retry(60.0, jitter=0.1, rng=rng)
    assert all(60.0 <= slow(n) <= 66.0 for n in range(1, 20))

    fast = exponential_backoff(initial_s=1, maximum_s=60, factor=2, jitter=0.5, rng=rng)
    delays = [fast(n) for n in range(1, 10)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 2.0 ** (n - 1))
        assert ceiling * 0.5 <= delay <= ceiling
    no_jitter = exponential_backoff(initial_s=1, maximum_s=60, jitter=0.0)
    assert [no_jitter(n) for n in (1, 2, 3, 7, 8, 30)] == [1, 2, 4, 60, 60, 60]


def test_an_unreachable_gateway_is_retried_with_a_growing_attempt_count(
    owner: Owner, make_stream: StreamFactory
) -> None:
    backoff = Recorded()
    # A port nobody listens on: bind one, learn it, close it.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    stream = make_stream(url=f"http://127.0.0.1:{port}", backoff=backoff)

    status = owner.wait_state("reconnecting")
    assert "cannot reach WAHA" in (status.detail or "")
    assert [backoff.calls.get(timeout=TIMEOUT_S) for _ in range(3)] == [1, 2, 3]
    assert stream.status().state == "reconnecting"
    assert owner.catch_ups.empty()


def test_pings_from_waha_are_answered(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    make_stream()
    owner.wait_catch_up()

    assert fake_waha.ping() == 1
    assert fake_waha.wait_pongs(1)
    # WAHA's heartbeat terminates a client that did not answer the previous ping: none here.
    assert fake_waha.heartbeat() == 0
    assert fake_waha.wait_pongs(2)
    assert fake_waha.heartbeat() == 0
    assert fake_waha.connected == 1


def test_a_failing_event_handler_does_not_stop_the_stream(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    def flaky(event: InboundEvent) -> None:
        if isinstance(event, InboundMessage) and event.text == "boom":
            raise RuntimeError("handler bug")
        owner.on_event(event)

    stream = make_stream(on_event=flaky)
    owner.wait_catch_up()
    fake_waha.push_message(FARMER, "boom")
    fake_waha.push_message(FARMER, "sigue")

    assert owner.next_message().text == "sigue"
    assert stream.status().callback_errors == 1


def test_stop_closes_the_socket_and_joins_the_threads(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    stream = make_stream()
    owner.wait_catch_up()
    assert fake_waha.connected == 1

    started = time.monotonic()
    assert stream.stop(timeout_s=5)

    assert time.monotonic() - started < 2  # no wait for the reader's select timeout
    assert fake_waha.wait_until(lambda: fake_waha.connected == 0)
    assert stream.status().state == "stopped"
    fake_waha.push_message(FARMER, "nadie escucha")
    assert owner.events.empty()


def test_a_gateway_shutting_down_is_a_reconnect_not_a_configuration_error(
    fake_waha: FakeWaha, owner: Owner, make_stream: StreamFactory
) -> None:
    backoff = Recorded()
    make_stream(backoff=backoff)
    owner.wait_catch_up()

    fake_waha.stop()  # WAHA closes its clients with 1001 "Server is shutting down"

    status = owner.wait_state("reconnecting")
    assert status.detail == "WAHA closed the websocket with 1001 (Server is shutting down)"
    assert backoff.calls.get(timeout=TIMEOUT_S) == 1


def test_an_upgrade_refused_with_401_is_a_configuration_error_too(
    owner: Owner, make_stream: StreamFactory
) -> None:
    # WAHA itself accepts and closes with 1008; a proxy in front of it may refuse the upgrade.
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response(UNAUTHORIZED, status=401)

    app = web.Application()
    app.router.add_get("/ws", refuse)
    proxy = ServerThread(app)
    proxy.start()
    try:
        slow = Recorded()
        make_stream(url=f"http://127.0.0.1:{proxy.port}", auth_backoff=slow)

        status = owner.wait_state("bad_api_key")
        assert status.detail == "bad api key: WAHA refused the websocket handshake (401)"
        assert slow.calls.get(timeout=TIMEOUT_S) == 1
    finally:
        proxy.stop()
