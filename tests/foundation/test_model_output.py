"""The output schema and parse_output: whatever the model writes, callers get a valid reply."""

from __future__ import annotations

import json

import jsonschema
import pytest

from agrochat import wording
from agrochat.model_output import output_schema, parse_output, parse_output_detailed, repair_json

FIELDS = ["cultivo", "fecha_siembra", "hectareas"]

GOOD = {
    "role": "consulta",
    "respuesta_chat": "Riega tu papa cada 7 a 10 días, temprano en la mañana.",
    "acciones": {
        "actualizar_formulario": {"cultivo": "papa"},
        "crear_alerta": {"nivel": "media", "mensaje": "Revisar humedad del suelo"},
        "escalar_a_humano": False,
    },
    "estado": {"tema": "riego", "respondida": True, "campos_faltantes": ["hectareas"]},
}


def valid(output: dict, fields=FIELDS) -> None:
    jsonschema.validate(output, output_schema(fields))


def test_schema_bounds_every_string_and_enumerates_form_fields():
    schema = output_schema(FIELDS)
    jsonschema.Draft202012Validator.check_schema(schema)

    def strings(node):
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node:
                yield node
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)

    assert all("maxLength" in s for s in strings(schema))
    form = schema["properties"]["acciones"]["properties"]["actualizar_formulario"]
    assert list(form["properties"]) == FIELDS
    assert form["additionalProperties"] is False
    assert schema["additionalProperties"] is False
    missing = schema["properties"]["estado"]["properties"]["campos_faltantes"]
    assert missing["items"]["enum"] == FIELDS


def test_schema_without_form_fields_allows_no_updates():
    schema = output_schema([])
    jsonschema.Draft202012Validator.check_schema(schema)
    bad = json.loads(json.dumps(GOOD))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    out = parse_output(json.dumps(GOOD), [])
    assert out["acciones"]["actualizar_formulario"] == {}
    assert out["estado"]["campos_faltantes"] == []
    valid(out, [])


def test_valid_output_passes_through_unchanged():
    parsed = parse_output_detailed(json.dumps(GOOD, ensure_ascii=False), FIELDS)
    assert parsed.output == GOOD
    assert not parsed.repaired and parsed.dropped == () and parsed.answered


def test_values_outside_form_and_enums_are_dropped():
    bad = json.loads(json.dumps(GOOD))
    bad["role"] = "hackeo"
    bad["extra"] = 1
    bad["acciones"]["actualizar_formulario"] = {"cultivo": "maíz", "password": "x", "hectareas": 3}
    bad["acciones"]["crear_alerta"] = {"nivel": "urgente", "mensaje": "x"}
    bad["acciones"]["escalar_a_humano"] = "sí"
    bad["estado"] = {"tema": "política", "respondida": "true", "campos_faltantes": ["x", "cultivo"]}
    parsed = parse_output_detailed(json.dumps(bad), FIELDS)
    out = parsed.output
    valid(out)
    assert out["role"] == "consulta"
    assert out["acciones"]["actualizar_formulario"] == {"cultivo": "maíz", "hectareas": "3"}
    assert out["acciones"]["crear_alerta"] is None
    assert out["acciones"]["escalar_a_humano"] is False
    assert out["estado"] == {"tema": "otro", "respondida": False, "campos_faltantes": ["cultivo"]}
    dropped = " ".join(parsed.dropped)
    for what in ("role", "extra", "password", "crear_alerta", "escalar_a_humano", "tema", "'x'"):
        assert what in dropped


def test_overlong_strings_are_clipped_to_the_schema():
    long = dict(GOOD, respuesta_chat="a" * 5000)
    out = parse_output(json.dumps(long), FIELDS)
    valid(out)
    assert len(out["respuesta_chat"]) <= 600


@pytest.mark.parametrize("cut", range(1, len(json.dumps(GOOD, ensure_ascii=False)) + 1, 7))
def test_truncated_json_is_repaired_into_a_valid_reply(cut):
    text = json.dumps(GOOD, ensure_ascii=False)[:cut]
    out = parse_output(text, FIELDS)
    valid(out)
    # A half-written form value is never trusted.
    assert out["acciones"]["actualizar_formulario"].get("cultivo") in (None, "papa")


def test_answer_cut_mid_sentence_keeps_its_text():
    text = json.dumps(GOOD, ensure_ascii=False)
    cut = text.index("temprano") + 4
    parsed = parse_output_detailed(text[:cut], FIELDS)
    assert parsed.repaired and parsed.answered
    assert parsed.output["respuesta_chat"].startswith("Riega tu papa cada 7 a 10 días, temp")
    assert parsed.output["respuesta_chat"].endswith("…")
    assert parsed.output["estado"]["respondida"] is False


@pytest.mark.parametrize("content", ["", "no sé", "[1, 2]", '{"role": ', "null"])
def test_unusable_output_gets_the_fallback_answer(content):
    parsed = parse_output_detailed(content, FIELDS)
    valid(parsed.output)
    assert parsed.output["respuesta_chat"] == wording.FALLBACK
    assert parsed.answered is False
    assert parsed.output["estado"]["respondida"] is False


def test_json_wrapped_in_a_code_fence_or_prose_is_read():
    fenced = "```json\n" + json.dumps(GOOD) + "\n```"
    assert parse_output(fenced, FIELDS) == GOOD
    prose = "Aquí está: " + json.dumps(GOOD) + " ¡Saludos!"
    assert parse_output_detailed(prose, FIELDS).output == GOOD


def test_repair_json_cuts_back_to_complete_members():
    assert json.loads(repair_json('{"a": 1, "b": tr')) == {"a": 1}
    assert json.loads(repair_json('{"a": [1, 2')) == {"a": [1, 2]}
    assert json.loads(repair_json('{"a": {"b": "xy')) == {"a": {}}
    assert json.loads(repair_json('{"respuesta_chat": "hola\\u00')) == {"respuesta_chat": "hola…"}
    assert json.loads(repair_json('{"mensaje": "ojo\\')) == {"mensaje": "ojo…"}
    assert repair_json("}") is None
