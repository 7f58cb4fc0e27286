"""The panel's pages over HTTP: what an admin sees and changes, and that bad input changes
nothing."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import sqlalchemy as sa

from agrochat.errors import NotReady, Overloaded
from agrochat.messages import Tick
from agrochat.persistence import (
    AlertStore,
    KnowledgeStore,
    MessageStore,
    ProducerStore,
    record_audit,
    utcnow,
)
from tests.admin.conftest import ADMIN, Browser, Panel
from tests.schema import alerts, form_fields, knowledge

PHONE = "51987654321"
SCRIPT = "<script>alert(1)</script>"


def add_producer(panel: Panel, phone: str = PHONE, **fields: str) -> int:
    store = ProducerStore(panel.db)
    producer, _ = store.get_or_create(phone)
    if fields:
        store.set_fields(producer.id, fields, source="model")
        if "nombre" in fields:
            store.update(producer.id, name=fields["nombre"])
    return producer.id


def audit_actions(panel: Panel) -> list[tuple[str, str, str | None]]:
    return [(r.actor, r.action, r.target) for r in panel.audit_rows()]


# -- escaping -------------------------------------------------------------------------------


def test_producer_text_is_shown_escaped_never_as_markup(panel: Panel, browser: Browser) -> None:
    pid = add_producer(panel, cultivo="papa")
    ProducerStore(panel.db).update(pid, name='Juan "<b>" Pérez', needs_human=True)
    inbound = MessageStore(panel.db).add_inbound(pid, SCRIPT)
    MessageStore(panel.db).record_reply(
        inbound.id, "Hola <img src=x onerror=alert(2)>", status="answered"
    )
    AlertStore(panel.db).create(phone=PHONE, message="<i>helada</i>", level="alta", source="api")

    detail = browser.get(f"/admin/producers/{pid}").text
    assert html.escape(SCRIPT) in detail
    assert "&lt;img src=x onerror=alert(2)&gt;" in detail
    assert "&lt;i&gt;helada&lt;/i&gt;" in detail
    assert "Juan &quot;&lt;b&gt;&quot; Pérez" in detail
    for page in (detail, browser.get("/admin/producers").text, browser.get("/admin").text):
        assert "<script>" not in page and "<b>" not in page and "<img" not in page
    assert "<i>" not in browser.get("/admin/alerts").text


def test_security_headers_forbid_scripts_and_framing(panel: Panel, browser: Browser) -> None:
    response = browser.get("/admin")
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    css = browser.get("/admin/static/admin.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


# -- dashboard ------------------------------------------------------------------------------


def test_dashboard_counts_producers_messages_alerts_and_shows_health(
    panel: Panel, browser: Browser
) -> None:
    flagged = add_producer(panel, nombre="Rosa Quispe", cultivo="papa")
    ProducerStore(panel.db).update(flagged, needs_human=True, status="activo")
    add_producer(panel, "51911111111")
    messages = MessageStore(panel.db)
    yesterday = messages.add_inbound(flagged, "ayer", now=utcnow() - dt.timedelta(days=2))
    messages.record_reply(
        yesterday.id, "ok", status="answered", now=utcnow() - dt.timedelta(days=2)
    )
    for text in ("¿riego?", "¿plaga?"):
        inbound = messages.add_inbound(flagged, text)
        messages.record_reply(inbound.id, "respuesta", status="answered")
    store = AlertStore(panel.db)
    store.create(phone=PHONE, message="a", level="alta", source="api")
    failed = store.create(phone=PHONE, message="no llegó", level="baja", source="api")
    with panel.db.tx() as conn:
        conn.execute(
            alerts.update()
            .where(alerts.c.id == failed)
            .values(status="failed", last_error="422 session")
        )
    panel.supervisor.alive["whatsapp"] = False
    panel.context.health_checks["gateway"] = lambda: (False, "SCAN_QR_CODE")

    page = browser.get("/admin")
    assert page.status_code == 200
    tiles = {
        label: value
        for label, value in re.findall(
            r'tile-label">([^<]+)</span>\s*<span class="tile-value">(\d+)', page.text
        )
    }
    assert tiles == {
        "Productores": "2",
        "Esperan a una persona": "1",
        "Mensajes hoy": "2",
        "Alertas pendientes": "1",
    }
    assert "1 activos" in page.text and "1 en registro" in page.text
    assert "Rosa Quispe" in page.text and "no llegó" in page.text
    assert "Con problemas" in page.text and "whatsapp: down" in page.text
    assert '<span class="chip chip-ok">ready</span>' in page.text  # the model
    assert '<span class="chip chip-bad">SCAN_QR_CODE</span>' in page.text  # the gateway
    assert "gateway: SCAN_QR_CODE" in page.text  # and why the system is not healthy


# -- producers ------------------------------------------------------------------------------


def test_producers_are_found_by_phone_name_crop_and_district(
    panel: Panel, browser: Browser
) -> None:
    add_producer(panel, PHONE, nombre="Rosa Quispe", cultivo="maíz", distrito="Huancayo")
    add_producer(panel, "51922222222", nombre="Pedro Mamani", cultivo="papa", distrito="Jauja")
    ProducerStore(panel.db).update(ProducerStore(panel.db).get("51922222222").id, status="inactivo")

    def names(query: str) -> set[str]:
        page = browser.get("/admin/producers?" + query).text
        return set(re.findall(r'href="/admin/producers/\d+">([^<]+)</a>', page))

    assert names("q=") == {"Rosa Quispe", "Pedro Mamani"}
    assert names("q=7654") == {"Rosa Quispe"}
    assert names("q=mamani") == {"Pedro Mamani"}
    assert names("q=maiz") == {"Rosa Quispe"}  # the crop without its accent
    assert names("q=jauja") == {"Pedro Mamani"}
    assert names("estado=inactivo") == {"Pedro Mamani"}
    assert names("q=100%25") == set()  # a LIKE wildcard is a plain character


def test_producer_list_is_paginated(panel: Panel, browser: Browser) -> None:
    for i in range(30):
        add_producer(panel, f"519000000{i:02d}", nombre=f"Productor {chr(65 + i % 26)}")
    first = browser.get("/admin/producers").text
    second = browser.get("/admin/producers?pagina=2").text
    rows = lambda page: re.findall(r'href="/admin/producers/(\d+)"', page)  # noqa: E731
    assert len(rows(first)) == 25 and len(rows(second)) == 5
    assert not set(rows(first)) & set(rows(second))
    assert "1\u201325 de 30" in first and "pagina=2" in first


def test_profile_edit_is_validated_like_form_update_and_normalised(
    panel: Panel, browser: Browser
) -> None:
    pid = add_producer(panel, nombre="Rosa Quispe", cultivo="papa")
    page = browser.get(f"/admin/producers/{pid}")
    assert 'value="Rosa Quispe"' in page.text
    response = browser.post(
        f"/admin/producers/{pid}/profile",
        {
            "nombre": "Rosa Quispe",
            "cultivo": "papa",
            "area_ha": "1,5 ha",
            "tipo_riego": "por surcos",
        },
    )
    assert response.status_code == 303 and "ok=perfil" in response.headers["location"]
    assert ProducerStore(panel.db).fields(pid) == {
        "nombre": "Rosa Quispe",
        "cultivo": "papa",
        "area_ha": "1.5",
        "tipo_riego": "gravedad",
    }
    # Only what changed was sent, through the producer's session, marked as the admin's.
    assert panel.sessions.calls == [(PHONE, {"area_ha": "1.5", "tipo_riego": "gravedad"}, "admin")]
    [row] = [r for r in panel.audit_rows() if r.action == "producer.profile_update"]
    assert row.actor == "admin:ana" and row.target == f"producer:{pid}"
    assert json.loads(row.details)["fields"] == {"area_ha": "1.5", "tipo_riego": "gravedad"}
    assert "Perfil actualizado." in browser.get(response.headers["location"]).text


def test_bad_profile_input_rerenders_the_form_and_stores_nothing(
    panel: Panel, browser: Browser
) -> None:
    pid = add_producer(panel, nombre="Rosa Quispe", cultivo="papa")
    browser.get(f"/admin/producers/{pid}")
    response = browser.post(
        f"/admin/producers/{pid}/profile",
        {
            "nombre": "",  # a stored value cannot be emptied
            "cultivo": "papa",
            "area_ha": "9000 ha",  # over the form's maximum
            "fecha_siembra": "2026-13-45",
            "distrito": "Huancayo",  # valid, but the update is all or nothing
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert "No se guardó nada" in text
    assert "no se puede dejar vacío" in text
    assert "debe ser como máximo 5000 ha" in text
    assert "esa fecha no existe" in text
    assert 'value="9000 ha"' in text and 'value="Huancayo"' in text  # what was typed stays
    assert ProducerStore(panel.db).fields(pid) == {"nombre": "Rosa Quispe", "cultivo": "papa"}
    assert panel.sessions.calls == []
    assert not [r for r in panel.audit_rows() if r.action == "producer.profile_update"]


def test_resolving_clears_needs_human_and_status_can_change(panel: Panel, browser: Browser) -> None:
    pid = add_producer(panel, nombre="Rosa Quispe")
    ProducerStore(panel.db).update(pid, needs_human=True)
    inbound = MessageStore(panel.db).add_inbound(pid, "Quiero hablar con un ingeniero")
    record_audit(
        panel.db,
        actor="model",
        action="escalar_a_humano",
        target=f"producer:{pid}",
        details={"message_id": inbound.id},
    )
    page = browser.get(f"/admin/producers/{pid}").text
    assert "Marcar como resuelta" in page
    assert "msg-escalated" in page and "escalado a una persona" in page
    assert browser.post(f"/admin/producers/{pid}/resolve", {}).status_code == 303
    assert ProducerStore(panel.db).get_by_id(pid).needs_human is False
    assert "Marcar como resuelta" not in browser.get(f"/admin/producers/{pid}").text

    bad = browser.post(f"/admin/producers/{pid}/status", {"estado": "borrado"})
    assert bad.status_code == 422 and "Elige un estado de la lista." in bad.text
    assert browser.post(f"/admin/producers/{pid}/status", {"estado": "inactivo"}).status_code == 303
    assert ProducerStore(panel.db).get_by_id(pid).status == "inactivo"
    assert [a for _, a, _ in audit_actions(panel) if a.startswith("producer.")] == [
        "producer.resolved",
        "producer.status",
    ]


def test_admin_adds_a_producer_by_phone(panel: Panel, browser: Browser) -> None:
    bad = browser.post("/admin/producers", {"telefono": "12ab"})
    assert bad.status_code == 422 and "No es un teléfono válido" in bad.text
    assert ProducerStore(panel.db).count() == 0
    created = browser.post("/admin/producers", {"telefono": "+51 987 654 321"})
    assert created.status_code == 303
    producer = ProducerStore(panel.db).get(PHONE)
    assert producer is not None
    assert created.headers["location"].endswith(f"/admin/producers/{producer.id}?ok=productor")
    again = browser.post("/admin/producers", {"telefono": "51987654321@c.us"})
    assert "ok=ya_existe" in again.headers["location"]
    assert [a for _, a, _ in audit_actions(panel)].count("producer.create") == 1


# -- alerts ---------------------------------------------------------------------------------


def test_alert_for_one_phone_is_created_scheduled_in_local_time_and_listed(
    panel: Panel, browser: Browser
) -> None:
    pid = add_producer(panel, nombre="Rosa Quispe", cultivo="papa")
    form = browser.get(f"/admin/alerts/new?telefono={PHONE}")
    assert f'value="{PHONE}"' in form.text
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).astimezone(
        dt.timezone(dt.timedelta(hours=-5))  # America/Lima has no daylight saving
    )
    response = browser.post(
        "/admin/alerts",
        {
            "destino": "telefono",
            "telefono": PHONE,
            "nivel": "alta",
            "mensaje": "Helada esta noche: riega ligero por la tarde.",
            "programada": when.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 303
    [alert] = AlertStore(panel.db).recent()
    assert (alert.phone, alert.producer_id, alert.level, alert.source, alert.status) == (
        PHONE,
        pid,
        "alta",
        "admin",
        "pending",
    )
    expected = when.astimezone(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)
    assert alert.scheduled_at == expected
    assert panel.supervisor.told == []  # not due yet: no nudge
    listed = browser.get("/admin/alerts?estado=pending").text
    assert "Helada esta noche" in listed and "Rosa Quispe" in listed
    assert ("admin:ana", "alert.create", f"alert:{alert.id}") in audit_actions(panel)


def test_alert_for_a_crop_goes_to_every_active_producer_of_that_crop(
    panel: Panel, browser: Browser
) -> None:
    add_producer(panel, "51911111111", cultivo="maíz")
    add_producer(panel, "51922222222", cultivo="maíz")
    add_producer(panel, "51933333333", cultivo="papa")
    response = browser.post(
        "/admin/alerts",
        {
            "destino": "cultivo",
            "cultivo": "Maiz",
            "nivel": "media",
            "mensaje": "Cogollero: revisa.",
        },
    )
    assert response.status_code == 303 and "n=2" in response.headers["location"]
    assert sorted(a.phone for a in AlertStore(panel.db).recent()) == ["51911111111", "51922222222"]
    assert panel.supervisor.told and isinstance(panel.supervisor.told[0][1], Tick)
    [row] = [r for r in panel.audit_rows() if r.action == "alert.create"]
    assert json.loads(row.details)["count"] == 2


def test_bad_alert_input_rerenders_the_form_and_creates_nothing(
    panel: Panel, browser: Browser
) -> None:
    add_producer(panel, cultivo="papa")
    response = browser.post(
        "/admin/alerts",
        {
            "destino": "telefono",
            "telefono": "123",
            "nivel": "urgente",
            "mensaje": " ",
            "programada": "2020-01-01T07:00",
        },
    )
    assert response.status_code == 422
    text = response.text
    for message in (
        "No es un teléfono válido",
        "Elige un nivel",
        "Escribe el mensaje",
        "ya pasaron",
    ):
        assert message in text
    assert 'value="123"' in text
    nobody = browser.post(
        "/admin/alerts",
        {"destino": "cultivo", "cultivo": "cacao", "nivel": "baja", "mensaje": "Monilia"},
    )
    assert nobody.status_code == 422 and "Ningún productor activo coincide" in nobody.text
    assert panel.count(alerts) == 0
    assert not [r for r in panel.audit_rows() if r.action == "alert.create"]


def test_cancelling_a_pending_alert_and_not_a_sent_one(panel: Panel, browser: Browser) -> None:
    store = AlertStore(panel.db)
    pending = store.create(phone=PHONE, message="a", level="baja", source="api")
    sent = store.create(phone=PHONE, message="b", level="baja", source="api")
    store.mark_sent(sent)
    browser.get("/admin/alerts")
    ok = browser.post(f"/admin/alerts/{pending}/cancel", {"volver": "/admin/alerts?estado=pending"})
    assert ok.status_code == 303
    assert ok.headers["location"].endswith("/admin/alerts?estado=pending&ok=cancelada")
    refused = browser.post(f"/admin/alerts/{sent}/cancel", {"volver": "https://evil.example/"})
    assert refused.headers["location"].endswith("/admin/alerts?err=no_cancelable")
    assert "ya no se puede cancelar" in browser.get(refused.headers["location"]).text
    assert store.get(pending).status == "cancelled" and store.get(sent).status == "sent"
    assert [a for _, a, _ in audit_actions(panel) if a.startswith("alert.")] == ["alert.cancel"]
    assert browser.post("/admin/alerts/999/cancel", {}).status_code == 404


# -- knowledge ------------------------------------------------------------------------------


NEW_ENTRY = {
    "titulo": "Riego del maíz en floración",
    "respuesta": "El maíz necesita agua sobre todo en la floración y el llenado del grano.",
    "texto": "El maíz necesita agua sobre todo en la floración y el llenado del grano.",
    "cultivo": "maiz",
    "tema": "riego",
    "palabras": "regar  agua floracion",
    "fuente": "FAO",
    "fuente_titulo": "Crop information: Maize",
    "fuente_anio": "",
    "fuente_url": "https://www.fao.org/land-water/databases-and-software/crop-information/maize/en",
}


def test_knowledge_entries_are_created_edited_reviewed_and_retired(
    panel: Panel, browser: Browser
) -> None:
    store = KnowledgeStore(panel.db)
    seeded = len(store.all())
    created = browser.post("/admin/knowledge", NEW_ENTRY)
    assert created.status_code == 303
    [entry] = [e for e in store.all() if e.title == "Riego del maíz en floración"]
    assert (entry.crop, entry.topic, entry.keywords, entry.source, entry.source_year) == (
        "maíz",
        "riego",
        "regar agua floracion",
        "FAO",
        None,
    )
    assert (entry.origin, entry.review_status) == ("admin", "pending")
    form = browser.get(f"/admin/knowledge/{entry.id}").text
    assert "Riego del maíz en floración" in form and "pendiente de revisión" in form
    assert "Fuente: FAO, s. f." in form

    bad = browser.post(
        f"/admin/knowledge/{entry.id}",
        {"titulo": "x", "texto": "corto", "tema": "astrologia", "cultivo": "", "palabras": ""},
    )
    assert bad.status_code == 422
    assert "Escribe un título" in bad.text and "Elige un tema" in bad.text
    assert "Nombra quién publica la fuente" in bad.text
    assert store.get(entry.id).title == "Riego del maíz en floración"

    reviewed = browser.post(f"/admin/knowledge/{entry.id}/review", {})
    assert reviewed.status_code == 303
    after = store.get(entry.id)
    assert (after.review_status, after.reviewed_by) == ("reviewed", f"admin:{ADMIN}")
    assert "revisado" in browser.get(f"/admin/knowledge/{entry.id}").text

    edited = browser.post(
        f"/admin/knowledge/{entry.id}",
        {**NEW_ENTRY, "titulo": "Riego del maíz", "cultivo": "", "fuente_anio": "2020"},
    )
    assert edited.status_code == 303
    after = store.get(entry.id)
    assert (after.title, after.crop, after.source_year) == ("Riego del maíz", None, 2020)
    assert after.review_status == "pending"  # an edit must be reviewed again
    listing = browser.get("/admin/knowledge?q=floracion&revision=pending").text
    assert "Riego del maíz" in listing and "FAO, 2020" in listing
    assert "Riego del maíz" not in browser.get("/admin/knowledge?tema=plagas").text

    assert browser.post(f"/admin/knowledge/{entry.id}/delete", {}).status_code == 303
    assert store.get(entry.id) is None and len(store.all()) == seeded
    assert panel.count(knowledge) == seeded + 1  # retired, kept: no seed can bring it back
    assert [a for _, a, _ in audit_actions(panel) if a.startswith("knowledge.")] == [
        "knowledge.create",
        "knowledge.review",
        "knowledge.update",
        "knowledge.delete",
    ]


def test_seeded_entries_show_their_source_and_review_status(panel: Panel, browser: Browser) -> None:
    rancha = KnowledgeStore(panel.db).by_key("papa-plagas-rancha")
    listing = browser.get("/admin/knowledge?q=rancha").text
    assert rancha.title in listing and rancha.source in listing and "pendiente" in listing
    page = browser.get(f"/admin/knowledge/{rancha.id}").text
    assert "Viene de la base inicial de agrochat" in page
    assert rancha.source_url in page


# -- errors ---------------------------------------------------------------------------------


def test_errors_on_admin_pages_are_html_pages_with_their_status(
    panel: Panel, browser: Browser
) -> None:
    for path in ("/admin/producers/999", "/admin/no-such-page", "/admin/knowledge/99999999999"):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "No encontrado" in response.text
    too_big = browser.post("/admin/knowledge", {"texto": "x" * 70_000})
    assert too_big.status_code == 413 and "text/html" in too_big.headers["content-type"]
    panel.context.database = None
    try:
        starting = browser.get("/admin")
    finally:
        panel.context.database = panel.db
    assert starting.status_code == 503 and "Servicio no disponible" in starting.text
    with panel.db.tx() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(form_fields)).scalar() == 0


def test_profile_edit_while_sessions_restart_is_a_503_page_and_stores_nothing(
    panel: Panel, browser: Browser
) -> None:
    class Restarting:
        def update_form(self, phone: str, values: dict[str, str], **kwargs: object) -> None:
            raise NotReady("conversations are restarting; try again shortly")

    pid = add_producer(panel, nombre="Rosa Quispe")
    panel.context.sessions = Restarting()  # type: ignore[assignment]
    browser.get(f"/admin/producers/{pid}")
    response = browser.post(f"/admin/producers/{pid}/profile", {"nombre": "Rosa Quispe Mamani"})
    assert response.status_code == 503
    assert "No se guardó nada" in response.text
    assert ProducerStore(panel.db).fields(pid) == {"nombre": "Rosa Quispe"}
    assert not [r for r in panel.audit_rows() if r.action == "producer.profile_update"]


def test_profile_edit_while_every_session_is_busy_is_a_spanish_503_page_with_retry_after(
    panel: Panel, browser: Browser
) -> None:
    class Busy:
        def update_form(self, phone: str, values: dict[str, str], **kwargs: object) -> None:
            raise Overloaded("all 64 conversations (AGROCHAT_SESSION_MAX) are busy")

    pid = add_producer(panel, nombre="Rosa Quispe")
    panel.context.sessions = Busy()  # type: ignore[assignment]
    browser.get(f"/admin/producers/{pid}")
    response = browser.post(f"/admin/producers/{pid}/profile", {"nombre": "Rosa Quispe Mamani"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "no se guardó nada" in response.text and "AGROCHAT_SESSION_MAX" not in response.text
    assert ProducerStore(panel.db).fields(pid) == {"nombre": "Rosa Quispe"}
