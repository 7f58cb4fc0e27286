"""A slow model and a crowd of producers, over a real waitress server: /health, the panel and the
bridge's poll still answer, and the live sessions (threads) stay under AGROCHAT_SESSION_MAX.

The model double holds every reply inside the model until the test releases it, and counts who
got there; the test knows each request's place (inside the model, or answered) from events,
never from sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from agrochat.actors.session import SessionDirectory, SessionGateway, SessionStats
from agrochat.config import Config
from agrochat.http import AppContext, HttpServer, make_app
from agrochat.messages import InferenceRequest
from agrochat.persistence import Database
from agrochat.supervisor import ChildSpec, Supervisor
from tests.schema import messages, producers
from tests.session.conftest import ConversationFactory, FakeInference, reading_json

API_KEY = "test-api-key-0123456789"
# Long enough for anything that is not stuck; a starved /health waits for the release instead.
PATIENT_S = 5.0
CHAT_SYSTEM = "Responde usando SOLO el contexto."


class HeldModel:
    """The slow model: each reply (the rewording step, which every vetted answer takes with
    AGROCHAT_PHRASE=on) waits inside the model until ``release`` is set."""

    def __init__(self) -> None:
        self.arrived = threading.Semaphore(0)
        self.settled = threading.Semaphore(0)  # arrived in the model, or answered by HTTP
        self.release = threading.Event()

    def __call__(self, request: InferenceRequest) -> str:
        # A conversation's rewording, or the seed's Model API (/chat) asking for a reply.
        rewording = (request.request_id or "").endswith("-phrase")
        if rewording or request.messages[0]["content"] == CHAT_SYSTEM:
            self.arrived.release()
            self.settled.release()
            assert self.release.wait(30)
        return reading_json()


class Busy:
    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.config = config
        self.model = HeldModel()
        inference = self.inference = FakeInference(self.model)
        factory = ConversationFactory(db, config)
        self.stats = SessionStats()
        self.supervisor = Supervisor(
            [
                ChildSpec(
                    id="sessions",
                    start=lambda: SessionDirectory.start(
                        config,
                        peers=self.supervisor,
                        conversation_factory=lambda phone: factory(
                            phone, inference=inference, phrase=True
                        ),
                        tick_interval_s=None,
                        stats=self.stats,
                    ),
                )
            ],
            intensity=5,
            period_s=30,
        )
        self.context = AppContext(
            config=config,
            supervisor=self.supervisor,
            database=db,
            sessions=SessionGateway(self.supervisor, reply_timeout_s=config.reply_timeout_s),
            inference=inference,  # type: ignore[arg-type]
            metrics=[self.stats.render],
        )
        # As agrochat serves it: as many waitress threads as the configuration says.
        self.server = HttpServer(
            make_app(self.context), host="127.0.0.1", port=0, threads=config.http_threads
        )
        self.server._server.adj.asyncore_loop_timeout = 0.05  # type: ignore[union-attr]
        self.url = self.server.url
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="busy-client")

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=PATIENT_S)

    def agent(self, phone: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/agent",
            json={"phone": phone, "message": "¿Cuándo debo regar?", "role": "consulta"},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )

    def chat(self) -> httpx.Response:
        return httpx.post(
            f"{self.url}/chat",
            json={"system": CHAT_SYSTEM, "context": {"mensaje": "hola"}},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )

    def agent_in_background(self, phone: str) -> Future[httpx.Response]:
        return self.in_background(lambda: self.agent(phone))

    def in_background(self, send: Callable[[], httpx.Response]) -> Future[httpx.Response]:
        def call() -> httpx.Response:
            response = send()
            if response.status_code != 200:
                self.model.settled.release()  # answered at once (refused) rather than held
            return response

        return self.pool.submit(call)

    def stored_phones(self) -> set[str]:
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(producers.c.phone).join(
                    messages, messages.c.producer_id == producers.c.id
                )
            )
            return {row.phone for row in rows}


@pytest.fixture
def start_busy(sqlite_database: Database) -> Iterator:
    made: list[Busy] = []

    def start(**config: object) -> Busy:
        busy = Busy(
            sqlite_database,
            Config(
                api_key=API_KEY,
                operator_token="test-operator-token-0123456789",
                reply_timeout_s=20.0,
                asr=False,
                **config,  # type: ignore[arg-type]
            ),
        )
        made.append(busy)
        busy.supervisor.start()
        busy.server.start()
        return busy

    yield start
    for busy in made:
        busy.model.release.set()
        busy.pool.shutdown(wait=True)
        busy.server.stop()
        busy.supervisor.stop()


def settle(busy: Busy, count: int) -> None:
    for _ in range(count):
        assert busy.model.settled.acquire(timeout=10), "a request neither held nor answered"


def test_health_and_the_panel_answer_while_slow_replies_fill_every_model_slot(
    start_busy,
) -> None:
    # 4 waitress threads; /agent, /chat and /form/update may hold 2 of them.
    busy = start_busy(http_threads=4)
    phones = [f"5198700000{i}" for i in range(busy.config.http_threads)]
    replies = [busy.agent_in_background(phone) for phone in phones]
    # As many slow replies as threads: every one is either inside the model or refused.
    settle(busy, len(phones))

    health = busy.get("/health")
    assert health.status_code == 200, health.text
    assert busy.get("/admin/login").status_code == 200
    pending = busy.get("/alerts/pending", Authorization=f"Bearer {API_KEY}")
    assert pending.status_code == 200, pending.text

    busy.model.release.set()
    statuses = sorted(r.result(timeout=30).status_code for r in replies)
    assert statuses == [200, 200, 503, 503]
    refused = [r.result() for r in replies if r.result().status_code == 503]
    for response in refused:
        assert response.headers["Retry-After"] == "2"
        assert response.json()["error"]["code"] == "overloaded"
    # A refused message reached no session: nothing of it is stored.
    answered = {p for p, r in zip(phones, replies, strict=True) if r.result().status_code == 200}
    assert busy.stored_phones() == answered


def test_the_session_cap_holds_with_every_session_busy_and_the_next_producer_is_refused(
    start_busy,
) -> None:
    busy = start_busy(http_threads=8, session_max=3)
    phones = ["51987000001", "51987000002", "51987000003"]
    held = [busy.agent_in_background(phone) for phone in phones]
    for _ in phones:
        assert busy.model.arrived.acquire(timeout=10)

    fourth = busy.agent("51987000004")
    assert fourth.status_code == 503, fourth.text
    assert fourth.json()["error"]["code"] == "overloaded"
    assert fourth.headers["Retry-After"] == "2"
    sessions = [t for t in threading.enumerate() if t.name.startswith("SessionActor")]
    assert len(sessions) == 3
    metrics = busy.get("/metrics", Authorization=f"Bearer {API_KEY}").text
    assert "agrochat_sessions_live 3.0" in metrics
    assert "agrochat_sessions_max 3.0" in metrics
    assert "agrochat_sessions_refused_total 1.0" in metrics

    busy.model.release.set()
    assert [r.result(timeout=30).status_code for r in held] == [200, 200, 200]
    # Refused, so not stored (not as answered, not at all): its sender retries, and is answered.
    assert "51987000004" not in busy.stored_phones()
    retried = busy.agent("51987000004")
    assert retried.status_code == 200, retried.text
    assert busy.stored_phones() == {*phones, "51987000004"}


def test_the_seeds_model_api_shares_the_bound_and_is_refused_at_once_beyond_it(start_busy) -> None:
    busy = start_busy(http_threads=4)
    chats = [busy.in_background(busy.chat) for _ in range(busy.config.http_threads)]
    settle(busy, len(chats))
    # Both slots are held by /chat: /agent is refused too, and /health still answers.
    agent = busy.agent("51987000009")
    assert agent.status_code == 503, agent.text
    assert busy.get("/health").status_code == 200
    metrics = busy.get("/metrics", Authorization=f"Bearer {API_KEY}").text
    assert "agrochat_http_model_slots_in_use 2.0" in metrics
    assert "agrochat_http_model_refused_total 3.0" in metrics

    busy.model.release.set()
    assert sorted(c.result(timeout=30).status_code for c in chats) == [200, 200, 503, 503]
