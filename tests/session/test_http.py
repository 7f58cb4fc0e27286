"""POST /agent and POST /form/update over a real waitress server, with a supervised directory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import sqlalchemy as sa

from agrochat import wording
from agrochat.actors.session import SessionDirectory, SessionGateway, load_form
from agrochat.config import Config
from agrochat.http import AppContext, HttpServer, make_app
from agrochat.model_output import reply_schema
from agrochat.persistence import Database, MessageStore, ProducerStore
from agrochat.supervisor import ChildSpec, Supervisor
from tests.schema import form_fields, messages, producers
from tests.session.conftest import PHONE, ConversationFactory, FakeInference

API_KEY = "test-api-key-0123456789"
OPERATOR_TOKEN = "test-operator-token-0123456789"
SEED_BODY = {"phone": "51987654321@c.us", "message": "¿Cuándo debo regar?", "role": "consulta"}


class Harness:
    def __init__(self, db: Database, inference: FakeInference) -> None:
        self.db = db
        self.inference = inference
        self.config = Config(api_key=API_KEY, operator_token=OPERATOR_TOKEN, reply_timeout_s=10.0)
        factory = self.factory = ConversationFactory(db, self.config)
        self.supervisor = Supervisor(
            [
                ChildSpec(
                    id="sessions",
                    start=lambda: SessionDirectory.start(
                        self.config,
                        peers=self.supervisor,
                        conversation_factory=lambda phone: factory(phone, inference=inference),
                        tick_interval_s=None,
                    ),
                )
            ],
            intensity=5,
            period_s=30,
        )
        self.context = AppContext(
            config=self.config,
            supervisor=self.supervisor,
            database=db,
            sessions=SessionGateway(self.supervisor, reply_timeout_s=self.config.reply_timeout_s),
        )
        self.server = HttpServer(make_app(self.context), host="127.0.0.1", port=0, threads=4)
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.server.port}",
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=20,
        )

    def count(self, table: sa.Table) -> int:
        with self.db.tx() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar())


@pytest.fixture
def inference() -> FakeInference:
    return FakeInference()


@pytest.fixture
def harness(sqlite_database: Database, inference: FakeInference) -> Iterator[Harness]:
    h = Harness(sqlite_database, inference)
    h.supervisor.start()
    h.server.start()
    try:
        yield h
    finally:
        h.client.close()
        h.server.stop()
        h.supervisor.stop()


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    return response.json()["error"]


def test_agent_answers_with_the_seeds_exact_contract(harness: Harness) -> None:
    response = harness.client.post("/agent", json=SEED_BODY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["model_output"]
    output = body["model_output"]
    assert set(output) == {"role", "respuesta_chat", "acciones", "estado"}
    jsonschema.validate(output, reply_schema(load_form("perfil").names))
    # Answered from a vetted entry, with its source; a new producer is welcomed and the reply
    # ends asking for the first profile field.
    assert output["estado"]["respondida"] is True and output["estado"]["conocimiento"]
    assert output["respuesta_chat"].startswith(wording.WELCOME)
    assert "Fuente: " in output["respuesta_chat"]
    assert output["respuesta_chat"].endswith("¿Cómo te llamas?")
    producer = ProducerStore(harness.db).get(PHONE)
    assert producer is not None and producer.status == "nuevo"


def test_same_message_id_gets_the_first_answer_and_nothing_is_stored_twice(
    harness: Harness,
) -> None:
    body = {**SEED_BODY, "message_id": "false_51987654321@c.us_3EB0AAA"}
    first = harness.client.post("/agent", json=body)
    second = harness.client.post("/agent", json=body)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert harness.count(messages) == 2  # one in, one out


def test_another_producers_message_id_neither_replays_their_reply_nor_drops_the_message(
    harness: Harness,
) -> None:
    rosa = {**SEED_BODY, "phone": "51911111111@c.us", "message": "Me llamo Rosa Quispe"}
    rosa["message_id"] = "m-1"
    pedro = {**SEED_BODY, "phone": "51922222222@c.us", "message_id": "m-1"}
    first = harness.client.post("/agent", json=rosa)
    assert first.status_code == 200 and "Rosa" in first.text
    second = harness.client.post("/agent", json=pedro)
    assert second.status_code == 200, second.text
    assert "Rosa" not in second.text
    assert second.json()["model_output"]["estado"]["respondida"] is True
    b = ProducerStore(harness.db).get("51922222222")
    assert b is not None
    history = MessageStore(harness.db).history(b.id, limit=5).messages
    assert [(m.direction, m.text) for m in history[:1]] == [("in", SEED_BODY["message"])]
    assert len(history) == 2


def test_phone_forms_are_one_producer(harness: Harness) -> None:
    for phone in ("51987654321@c.us", "+51 987 654 321", "51987654321"):
        response = harness.client.post("/agent", json={**SEED_BODY, "phone": phone})
        assert response.status_code == 200, response.text
    assert harness.count(producers) == 1


BAD_AGENT_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"message": "hola", "role": "consulta"}, "phone"),
    ({"phone": "51987654321", "role": "consulta"}, "message"),
    ({"phone": "51987654321", "message": "hola"}, "role"),
    ({**SEED_BODY, "phone": ""}, "phone"),
    ({**SEED_BODY, "message": "   "}, "message"),
    ({**SEED_BODY, "message": 123}, "message"),
    ({**SEED_BODY, "message": ["hola"]}, "message"),
    ({**SEED_BODY, "phone": 51987654321}, "phone"),
    ({**SEED_BODY, "phone": "hola"}, "phone"),
    ({**SEED_BODY, "phone": "123"}, "phone"),
    ({**SEED_BODY, "phone": "+51 987 654 321 000 000"}, "phone"),
    ({**SEED_BODY, "role": "jefe"}, "role"),
    ({**SEED_BODY, "message": "a" * 5000}, "message"),
    ({**SEED_BODY, "message_id": 7}, "message_id"),
]


def test_bad_agent_input_is_422_naming_the_field_and_stores_nothing(harness: Harness) -> None:
    for body, field in BAD_AGENT_BODIES:
        error = error_of(harness.client.post("/agent", json=body), 422)
        assert field in error["details"], (body, error)
    assert harness.count(producers) == harness.count(messages) == 0
    assert harness.inference.calls == 0


def test_every_bad_field_is_reported_at_once(harness: Harness) -> None:
    error = error_of(harness.client.post("/agent", json={"phone": "x", "role": "?"}), 422)
    assert set(error["details"]) == {"phone", "message", "role"}


def test_a_64kb_message_is_refused_and_stores_nothing(harness: Harness) -> None:
    body = {**SEED_BODY, "message": "a" * 65536}
    error = error_of(harness.client.post("/agent", json=body), 413)
    assert error["code"] == "payload_too_large"
    assert harness.count(messages) == 0


MALFORMED: list[tuple[bytes, dict[str, str], int]] = [
    (b"{not json", {"Content-Type": "application/json"}, 400),
    (b"[1, 2]", {"Content-Type": "application/json"}, 400),
    (b'{"phone": "51987654321"}', {"Content-Type": "text/plain"}, 415),
    (b"\xff\xfe", {"Content-Type": "application/json"}, 400),
]


def test_malformed_bodies_are_json_4xx(harness: Harness) -> None:
    for content, headers, status in MALFORMED:
        error_of(harness.client.post("/agent", content=content, headers=headers), status)
        error_of(harness.client.post("/form/update", content=content, headers=headers), status)
    assert harness.count(messages) == 0


def test_agent_needs_the_api_key(harness: Harness) -> None:
    response = httpx.post(f"http://127.0.0.1:{harness.server.port}/agent", json=SEED_BODY)
    error_of(response, 401)
    assert harness.count(messages) == 0


def test_a_failing_conversation_is_an_apology_kept_and_visible_to_operators(
    harness: Harness,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("search index missing")

    harness.factory.knowledge.search = broken  # type: ignore[method-assign]
    body = {**SEED_BODY, "message_id": "wamid.fail"}
    response = harness.client.post("/agent", json=body)
    assert response.status_code == 200, response.text
    output = response.json()["model_output"]
    assert output["respuesta_chat"] == wording.CRASHED
    assert output["estado"]["respondida"] is False
    producer = ProducerStore(harness.db).get(PHONE)
    assert producer is not None
    stored = MessageStore(harness.db).by_gateway_id(producer.id, "wamid.fail")
    assert stored is not None and stored.status == "failed" and stored.text == SEED_BODY["message"]
    debug = harness.client.get(
        "/debug/actors", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    )
    assert debug.status_code == 200, debug.text
    (sessions,) = [a for a in debug.json()["actors"] if a["id"] == "sessions"]
    assert sessions["state"]["failed"] == 1
    assert "search index missing" in sessions["state"]["recent_failures"][0]["error"]


def test_agent_is_503_when_conversations_are_not_running(harness: Harness) -> None:
    harness.supervisor.stop()
    error = error_of(harness.client.post("/agent", json=SEED_BODY), 503)
    assert error["code"] == "not_ready"


def test_form_update_stores_normalised_values(harness: Harness) -> None:
    response = harness.client.post(
        "/form/update",
        json={
            "phone": "51987654321@c.us",
            "fields": {
                "cultivo": "Maiz",
                "area_ha": "1,5 ha",
                "tipo_riego": "por surcos",
                "fecha_siembra": "2026-09-15",
            },
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phone"] == "51987654321@c.us"
    assert body["fields"] == {
        "cultivo": "maíz",
        "area_ha": "1.5",
        "tipo_riego": "gravedad",
        "fecha_siembra": "2026-09-15",
    }
    assert body["campos_faltantes"] == ["nombre", "distrito"]


def test_form_update_is_all_or_nothing_and_lists_each_bad_field(harness: Harness) -> None:
    response = harness.client.post(
        "/form/update",
        json={
            "phone": "51987654321",
            "fields": {
                "cultivo": "papa",
                "area_ha": "3 manzanas",
                "fecha_siembra": "31/02/2026",
                "color": "azul",
                "tipo_riego": 5,
            },
        },
    )
    error = error_of(response, 422)
    assert set(error["details"]["fields"]) == {"area_ha", "fecha_siembra", "color", "tipo_riego"}
    assert harness.count(form_fields) == 0
    assert harness.count(producers) == 0


@pytest.mark.parametrize("date", ["hace 800000 dias", "hace 999999999999 semanas", "hace ² días"])
def test_form_update_with_a_date_further_back_than_the_calendar_is_a_422(
    harness: Harness, date: str
) -> None:
    body = {"phone": "51987654321", "fields": {"cultivo": "papa", "fecha_siembra": date}}
    error = error_of(harness.client.post("/form/update", json=body), 422)
    assert set(error["details"]["fields"]) == {"fecha_siembra"}
    assert harness.count(form_fields) == 0
    assert harness.count(producers) == 0


BAD_FORM_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"fields": {"cultivo": "papa"}}, "phone"),
    ({"phone": "abc", "fields": {"cultivo": "papa"}}, "phone"),
    ({"phone": "51987654321"}, "fields"),
    ({"phone": "51987654321", "fields": []}, "fields"),
    ({"phone": "51987654321", "fields": {}}, "fields"),
]


def test_bad_form_update_input_is_422(harness: Harness) -> None:
    for body, field in BAD_FORM_BODIES:
        error = error_of(harness.client.post("/form/update", json=body), 422)
        assert field in error["details"], (body, error)
    assert harness.count(producers) == 0
