"""The panel's form rules, without a server."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from agrochat.http._admin import safe_next
from agrochat.http._admin_forms import parse_alert, parse_knowledge, profile_changes

LIMA = zoneinfo.ZoneInfo("America/Lima")
NOW = dt.datetime(2026, 9, 15, 12, 0)  # naive UTC: 07:00 in Lima


def test_alert_time_is_read_in_the_producers_zone() -> None:
    draft, errors = parse_alert(
        {
            "destino": "todos",
            "nivel": "baja",
            "mensaje": "Campaña de vacunación",
            "programada": "2026-09-16T06:30",
        },
        zone=LIMA,
        now=NOW,
    )
    assert errors == {}
    assert draft is not None
    assert (draft.phone, draft.segment) == (None, None)
    assert draft.scheduled_at == dt.datetime(2026, 9, 16, 11, 30)


def test_alert_segment_uses_the_crop_as_the_profile_stores_it() -> None:
    draft, _ = parse_alert(
        {"destino": "cultivo", "cultivo": " Maiz ", "nivel": "media", "mensaje": "m"},
        zone=LIMA,
        now=NOW,
    )
    assert draft is not None and draft.segment == {"cultivo": "maíz"}
    draft, _ = parse_alert(
        {"destino": "distrito", "distrito": "Jauja", "nivel": "media", "mensaje": "m"},
        zone=LIMA,
        now=NOW,
    )
    assert draft is not None and draft.segment == {"distrito": "Jauja"}


def test_alert_errors_name_each_bad_field() -> None:
    draft, errors = parse_alert(
        {"destino": "marte", "nivel": "", "mensaje": "x" * 1001, "programada": "mañana"},
        zone=LIMA,
        now=NOW,
    )
    assert draft is None
    assert set(errors) == {"destino", "nivel", "mensaje", "programada"}
    _, errors = parse_alert(
        {
            "destino": "telefono",
            "telefono": "",
            "nivel": "alta",
            "mensaje": "m",
            "programada": "2028-01-01T00:00",
        },
        zone=LIMA,
        now=NOW,
    )
    assert set(errors) == {"telefono", "programada"}


ENTRY = {
    "titulo": "  Heladas   en papa ",
    "respuesta": "  Riega ligero  la tarde antes de la helada: el suelo húmedo guarda calor. ",
    "texto": "Riega ligero la tarde antes de la helada.\r\n",
    "cultivo": "PAPAS",
    "tema": "clima",
    "palabras": " helada  frio ",
    "fuente": " FAO ",
    "fuente_titulo": "Protección contra las heladas",
    "fuente_anio": "2005",
    "fuente_url": "https://www.fao.org/3/y7223s/y7223s00.htm",
}


def test_knowledge_is_trimmed_and_checked() -> None:
    draft, errors = parse_knowledge(ENTRY)
    assert errors == {}
    assert draft is not None
    assert (draft.title, draft.crop, draft.keywords, draft.source, draft.source_year) == (
        "Heladas en papa",
        "papa",
        "helada frio",
        "FAO",
        2005,
    )
    assert draft.answer == "Riega ligero la tarde antes de la helada: el suelo húmedo guarda calor."
    assert draft.body == "Riega ligero la tarde antes de la helada."
    _, errors = parse_knowledge({"titulo": "ok?", "texto": "", "tema": "magia"})
    assert set(errors) == {"respuesta", "texto", "tema", "fuente", "fuente_titulo"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("respuesta", "Uno. Dos. Tres. Cuatro oraciones son demasiadas para un WhatsApp."),
        ("respuesta", "x" * 421),
        ("cultivo", "alcachofa"),
        ("fuente_anio", "dos mil"),
        ("fuente_anio", "٢٠٢٠"),
        ("fuente_url", "javascript:alert(1)"),
    ],
)
def test_a_knowledge_entry_a_producer_cannot_read_or_trace_is_refused(
    field: str, value: str
) -> None:
    _, errors = parse_knowledge({**ENTRY, field: value})
    assert set(errors) == {field}


def test_profile_changes_skip_unchanged_fields_and_refuse_emptying() -> None:
    changed, errors = profile_changes(
        {"nombre": "Rosa  Quispe", "cultivo": "maiz", "distrito": "", "variedad": ""},
        {"nombre": "Rosa Quispe", "cultivo": "papa", "distrito": "Jauja"},
        ("nombre", "cultivo", "distrito", "variedad"),
    )
    assert changed == {"cultivo": "maiz"}
    assert set(errors) == {"distrito"}


def test_next_path_stays_inside_the_panel() -> None:
    assert safe_next("/admin/producers?q=papa&pagina=2") == "/admin/producers?q=papa&pagina=2"
    for hostile in (
        "https://evil.example/admin",
        "//evil.example",
        "/admin//evil.example",
        "/administrator",
        "/admin\r\nSet-Cookie: x",
        "javascript:alert(1)",
        None,
        "",
    ):
        assert safe_next(hostile) == "/admin"
