"""Which profile values a message states: only what the producer said as that field (a crop after
"siembro", an area with its unit, a date after "sembré", a place after "vivo en"), or a plain
answer to the question agrochat asked last, each already valid for its field."""

from __future__ import annotations

import datetime as dt

import pytest

from agrochat.actors.session import load_form
from agrochat.actors.session._extract import extract_fields

TODAY = dt.date(2026, 3, 10)
FORM = load_form("perfil")


def extract(text: str, asked: str | None = None) -> dict[str, str]:
    spec = FORM.get(asked) if asked is not None else None
    assert asked is None or spec is not None
    return extract_fields(text, FORM, today=TODAY, asked=spec)


# -- list answers ----------------------------------------------------------------------------


def test_a_registration_written_as_a_list_fills_each_field() -> None:
    assert extract("Rosalía Ccama, quinua, Cabanillas", asked="nombre") == {
        "nombre": "Rosalía Ccama",
        "cultivo": "quinua",
        "distrito": "Cabanillas",
    }


def test_a_list_may_bring_an_area_with_its_unit() -> None:
    assert extract("Rosa Mamani, Acora, papa, 2 ha", asked="nombre") == {
        "nombre": "Rosa Mamani",
        "distrito": "Acora",
        "cultivo": "papa",
        "area_ha": "2",
    }


def test_a_crop_in_a_list_is_not_taken_for_a_name() -> None:
    assert extract("quinua, Rosa Mamani", asked="nombre") == {
        "cultivo": "quinua",
        "nombre": "Rosa Mamani",
    }


def test_a_list_is_read_only_as_the_answer_to_our_question() -> None:
    assert extract("Rosalía Ccama, quinua, Cabanillas") == {}


# -- areas -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("tengo 2 hectareas", "2"),
        ("tengo 2 ha y media de cafe", "2.5"),
        ("son 2 hectareas y media", "2.5"),
        ("dos hectareas y media", "2.5"),
        ("tengo media hectarea", "0.5"),
        ("siembro en 5000 m2", "0.5"),
        ("tengo 1,5 ha", "1.5"),
        ("3 has de papa", "3"),
    ],
)
def test_an_area_is_read_with_its_unit(text: str, area: str) -> None:
    assert extract(text)["area_ha"] == area


@pytest.mark.parametrize(
    "text",
    [
        "el 15",
        "sembre el 15 de septiembre",
        "tengo 3 vacas",
        "tengo 15 plantas de palta",
    ],
)
def test_a_number_without_an_area_unit_is_no_area(text: str) -> None:
    assert "area_ha" not in extract(text)


@pytest.mark.parametrize("text", ["tengo 2 topos", "tengo 2 o 3 hectareas"])
def test_an_area_that_is_no_single_value_in_hectares_is_not_taken(text: str) -> None:
    assert "area_ha" not in extract(text)


def test_two_and_a_half_hectares_answering_our_question() -> None:
    assert extract("2 ha y media", asked="area_ha") == {"area_ha": "2.5"}


# -- crops -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "crop"),
    [
        ("siembro papa", "papa"),
        ("cultivo cafe", "café"),
        ("tengo cacao en Pangoa", "cacao"),
        ("soy productora de quinua", "quinua"),
        ("sembramos maiz amarillo", "maíz"),
        ("tengo 2 ha y media de cafe", "café"),
    ],
)
def test_a_crop_said_as_the_producers_is_taken(text: str, crop: str) -> None:
    assert extract(text)["cultivo"] == crop


@pytest.mark.parametrize(
    "text",
    [
        "mi papa tiene rancha",
        "mis papas tienen rancha",
        "cuando cosecho el cafe?",
        "la quinua esta cara",
    ],
)
def test_a_crop_only_named_registers_nothing(text: str) -> None:
    assert extract(text) == {}


def test_two_crops_at_once_register_neither() -> None:
    assert "cultivo" not in extract("siembro papa y maiz")


# -- names and places ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("me llamo Juan Pérez", "Juan Pérez"),
        ("Hola, soy doña Rosa", "Rosa"),
        ("mi nombre es maria", "Maria"),
        ("soy Juan Quispe y siembro papa en Huancayo", "Juan Quispe"),
    ],
)
def test_a_name_after_me_llamo_or_soy_is_taken_as_written(text: str, name: str) -> None:
    assert extract(text)["nombre"] == name


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("vivo en Huancayo", "Huancayo"),
        ("soy de Cabanillas", "Cabanillas"),
        ("mi chacra queda en Satipo", "Satipo"),
        ("vivo en huancayo", "Huancayo"),
        ("vivo en Huancané", "Huancané"),
    ],
)
def test_a_place_after_vivo_en_or_soy_de_is_the_district(text: str, place: str) -> None:
    assert extract(text)["distrito"] == place


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("tengo cacao en Pangoa", "Pangoa"),
        ("Mi papa tiene rancha en Huanta", "Huanta"),
        ("Tengo 2 ha en Pichanaqui", "Pichanaqui"),
        ("siembro cafe en Villa Rica", "Villa Rica"),
    ],
)
def test_a_capitalised_place_after_en_is_the_district(text: str, place: str) -> None:
    assert extract(text)["distrito"] == place


@pytest.mark.parametrize(
    "text", ["riego temprano en la mañana", "la rancha entra en las hojas", "hay helada en julio"]
)
def test_a_lower_case_word_after_en_is_no_place(text: str) -> None:
    assert "distrito" not in extract(text)


def test_name_crop_and_place_in_one_sentence() -> None:
    assert extract("me llamo Juan Quispe, siembro papa en Huancayo") == {
        "nombre": "Juan Quispe",
        "cultivo": "papa",
        "distrito": "Huancayo",
    }


# -- dates and irrigation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "date"),
    [
        ("sembre el 15 de septiembre", "fecha_siembra", "2025-09-15"),
        ("sembre hace 2 meses", "fecha_siembra", "2026-01-09"),
        ("sembre ayer", "fecha_siembra", "2026-03-09"),
        ("sembre papa el 10 de enero", "fecha_siembra", "2026-01-10"),
        ("regue ayer", "ultimo_riego", "2026-03-09"),
    ],
)
def test_a_date_after_its_verb_is_that_fields(text: str, field: str, date: str) -> None:
    assert extract(text)[field] == date


@pytest.mark.parametrize("text", ["sembre hace 800000 dias", "sembre hace ² semanas"])
def test_a_date_beyond_the_calendar_is_simply_not_taken(text: str) -> None:
    assert "fecha_siembra" not in extract(text)


def test_a_water_source_without_water_is_not_taken() -> None:
    assert "fuente_agua" not in extract("mi chacra esta al lado del canal")


def test_a_date_without_its_verb_registers_nothing() -> None:
    assert extract("el 15 de septiembre cayo helada") == {}


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("regamos por goteo", "tipo_riego", "goteo"),
        ("riego por aspersion", "tipo_riego", "aspersión"),
        ("riego con lluvia nomas", "tipo_riego", "secano"),
        ("el agua viene del canal", "fuente_agua", "canal"),
        ("el agua la jalamos del canal", "fuente_agua", "canal"),
        ("agua tenemos de la represa", "fuente_agua", "reservorio"),
        ("mi suelo es arcilloso", "tipo_suelo", "arcilloso"),
    ],
)
def test_an_option_after_its_cue_is_that_fields(text: str, field: str, value: str) -> None:
    assert extract(text)[field] == value


# -- answers to the question asked -----------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "text", "value"),
    [
        ("nombre", "Rosa Quispe", "Rosa Quispe"),
        ("cultivo", "papa", "papa"),
        ("cultivo", "quinoa", "quinua"),
        ("distrito", "Huancayo", "Huancayo"),
        ("distrito", "en Huancayo", "Huancayo"),
        ("area_ha", "media hectarea", "0.5"),
        ("fecha_siembra", "el 15 de octubre", "2025-10-15"),
        ("fecha_siembra", "hace 15 dias", "2026-02-23"),
        ("tipo_riego", "por goteo", "goteo"),
    ],
)
def test_a_plain_answer_to_our_question_is_that_fields_value(
    asked: str, text: str, value: str
) -> None:
    assert extract(text, asked=asked)[asked] == value


def test_a_question_is_never_an_answer() -> None:
    assert extract("como riego mi papa?", asked="nombre") == {}


def test_a_long_message_is_no_name() -> None:
    text = "mi papa tiene rancha en todas las hojas y no se que hacer"
    assert "nombre" not in extract(text, asked="nombre")


def test_a_district_named_as_such_is_taken_however_it_is_written() -> None:
    assert extract("estoy en el valle de cañete, distrito de imperial") == {"distrito": "Imperial"}
    # After a weaker cue a common word stays a word.
    assert extract("estoy en problemas con mi chacra") == {}


def test_a_registration_sentence_names_its_crop_without_a_cue() -> None:
    found = extract("arroz, 8 hectareas bajo inundacion en Ferreñafe")
    assert found == {
        "cultivo": "arroz",
        "area_ha": "8",
        "tipo_riego": "gravedad",
        "distrito": "Ferreñafe",
    }
    # Not in a question, and not for an optional choice ("lluvia" as the water's source).
    assert "cultivo" not in extract("cuantas hectareas de arroz se riegan por inundacion?")
