"""Form validation: dates, numbers with units, enumerations with accents and synonyms, text."""

from __future__ import annotations

import datetime as dt

import pytest

from agrochat.actors.session import (
    Accepted,
    Rejected,
    load_form,
    validate_fields,
    validate_value,
)

TODAY = dt.date(2026, 3, 10)
FORM = load_form("perfil")


def value(field: str, raw: object) -> str:
    result = validate_value(FORM.get(field), raw, today=TODAY)  # type: ignore[arg-type]
    assert isinstance(result, Accepted), result
    return result.value


def rejected(field: str, raw: object) -> str:
    result = validate_value(FORM.get(field), raw, today=TODAY)  # type: ignore[arg-type]
    assert isinstance(result, Rejected), result
    return result.reason


def test_default_profile_form_has_the_issue_fields_in_order() -> None:
    assert FORM.names == (
        "nombre",
        "cultivo",
        "variedad",
        "area_ha",
        "distrito",
        "fecha_siembra",
        "tipo_riego",
        "fuente_agua",
        "tipo_suelo",
        "ultimo_riego",
    )
    assert all(f.question.endswith("?") or ")" in f.question for f in FORM.fields)
    assert FORM.missing({}) == [f.name for f in FORM.fields if f.required]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-15", "2026-01-15"),
        ("hoy", "2026-03-10"),
        ("ayer", "2026-03-09"),
        ("antier", "2026-03-08"),
        ("sembré anteayer", "2026-03-08"),
        ("15/01/2026", "2026-01-15"),
        ("15-1-26", "2026-01-15"),
        ("hace 3 semanas", "2026-02-17"),
        ("hace dos días", "2026-03-08"),
        ("el 15 de octubre del 2025", "2025-10-15"),
        ("15 oct 2025", "2025-10-15"),
        # No year: the most recent 15 October that is not in the future.
        ("15 de octubre", "2025-10-15"),
        ("15 de Octubre", "2025-10-15"),
        ("1 de marzo", "2026-03-01"),
        ("15/10", "2025-10-15"),
    ],
)
def test_dates_are_understood_and_stored_iso(raw: str, expected: str) -> None:
    assert value("fecha_siembra", raw) == expected


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        ("fecha_siembra", "31/02/2026", "no existe"),
        ("fecha_siembra", "2030-01-01", "futuro"),
        ("fecha_siembra", "1990-01-01", "antigua"),
        ("fecha_siembra", "cuando llovió", "no entiendo"),
        # Further back than the year 1: too old, not an OverflowError.
        ("fecha_siembra", "hace 800000 dias", "antigua"),
        ("fecha_siembra", "hace 999999999999 meses", "antigua"),
        # "²" passes str.isdigit(), but it is no number of days.
        ("fecha_siembra", "hace ² dias", "no entiendo"),
        ("ultimo_riego", "2026-03-11", "futuro"),
    ],
)
def test_bad_dates_are_rejected_with_a_reason(field: str, raw: str, reason: str) -> None:
    assert reason in rejected(field, raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2 hectáreas", "2"),
        ("2 hectareas", "2"),
        ("1,5 ha", "1.5"),
        ("1.5 has", "1.5"),
        ("5000 m2", "0.5"),
        ("5.000 m²", "0.5"),
        ("2500m2", "0.25"),
        ("2500 metros cuadrados", "0.25"),
        ("media hectárea", "0.5"),
        ("una hectárea y media", "1.5"),
        ("un cuarto de hectárea", "0.25"),
        ("dos", "2"),
        ("tengo una chacra de dos hectáreas", "2"),
        ("3", "3"),
        (2, "2"),
        (0.75, "0.75"),
    ],
)
def test_areas_with_units_are_converted_to_hectares(raw: object, expected: str) -> None:
    assert value("area_ha", raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("3 manzanas", "hectáreas o metros cuadrados"),
        ("-2", "negativo"),
        ("0", "al menos"),
        ("10000 ha", "como máximo"),
        ("grande", "no encuentro"),
        ("2 o 3 hectáreas", "más de un número"),
        (True, "falta"),
    ],
)
def test_bad_areas_are_rejected(raw: object, reason: str) -> None:
    assert reason in rejected("area_ha", raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("goteo", "goteo"),
        ("Por goteo", "goteo"),
        ("aspersión", "aspersión"),
        ("ASPERSION", "aspersión"),
        ("por surcos", "gravedad"),
        ("por inundación", "gravedad"),
        ("riego por gravedad nomás", "gravedad"),
        ("solo con lluvia", "secano"),
        ("secano", "secano"),
    ],
)
def test_irrigation_type_accepts_accents_and_synonyms(raw: str, expected: str) -> None:
    assert value("tipo_riego", raw) == expected


def test_irrigation_type_rejects_unknown_and_ambiguous_values() -> None:
    assert "no es una opción" in rejected("tipo_riego", "con balde")
    assert "no está claro" in rejected("tipo_riego", "goteo y también por surcos")


def test_crop_is_canonical_with_accents_and_accepts_other_crops() -> None:
    assert value("cultivo", "maiz") == "maíz"
    assert value("cultivo", "Café") == "café"
    assert value("cultivo", "choclo") == "maíz"
    assert value("cultivo", "siembro papa nomás") == "papa"
    assert value("cultivo", "Olluco") == "olluco"
    rejected("cultivo", "12345")
    rejected("cultivo", "¿qué cultivo me conviene?")


def test_names_are_cleaned_of_greetings_and_introductions() -> None:
    assert value("nombre", "Hola, me llamo Juan Pérez.") == "Juan Pérez"
    assert value("nombre", "soy maría quispe") == "María Quispe"
    assert value("distrito", "en el distrito de San Jerónimo de Tunán") == "San Jerónimo de Tunán"
    assert "pregunta" in rejected("nombre", "¿para qué quieres mi nombre?")
    assert "letras" in rejected("nombre", "12345")
    assert "largo" in rejected("nombre", "me llamo Juan y tengo una chacra muy grande en el valle")


def test_validate_fields_reports_every_bad_field_and_unknown_ones() -> None:
    result = validate_fields(
        FORM,
        {"cultivo": "papa", "area_ha": "3 manzanas", "color": "rojo", "fecha_siembra": "ayer"},
        today=TODAY,
    )
    assert result.values == {"cultivo": "papa", "fecha_siembra": "2026-03-09"}
    assert set(result.errors) == {"area_ha", "color"}
    assert not result.ok
