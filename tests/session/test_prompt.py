"""What the model is asked when the rules leave a choice: a fixed prefix (system prompt and
examples, so its KV state is reused) and one variable message; and how its answer is read,
whatever it wrote."""

from __future__ import annotations

import json

import pytest

from agrochat.actors.session._prompt import (
    ANSWER_START,
    EXAMPLES,
    SCHEMA,
    Option,
    messages,
    parse_reading,
)
from agrochat.actors.session._understand import OPTIONS, Intent, ModelReading

RANCHA = Option(title="Rancha o tizón tardío de la papa", answer="La rancha forma manchas " * 10)
HELADA = Option(title="Heladas en papa", answer="Siembra variedades nativas tolerantes.")
PREFIX = 1 + 2 * len(EXAMPLES)


# -- the prompt ------------------------------------------------------------------------------


def test_the_prefix_is_the_same_for_every_message() -> None:
    one = messages("mi papa tiene manchas negras", [RANCHA, HELADA])
    other = messages("hola, que tal", [])
    assert len(one) == len(other) == PREFIX + 1
    assert one[:PREFIX] == other[:PREFIX]
    assert one[PREFIX:] != other[PREFIX:]


def test_the_prefix_starts_with_the_system_prompt_and_alternates_examples() -> None:
    roles = [m["role"] for m in messages("hola", [])]
    assert roles == ["system", *["user", "assistant"] * len(EXAMPLES), "user"]


def test_the_producers_message_is_only_in_the_last_turn() -> None:
    chat = messages("mi papa tiene manchas negras", [RANCHA])
    assert all("mi papa tiene manchas negras" not in m["content"] for m in chat[:-1])
    assert "Mensaje: mi papa tiene manchas negras" in chat[-1]["content"]


def test_options_are_numbered_from_one_and_zero_is_none() -> None:
    lines = messages("como protejo mi papa?", [RANCHA, HELADA])[-1]["content"].splitlines()
    assert lines[2].startswith(f"1. {RANCHA.title} — ")
    assert lines[3].startswith(f"2. {HELADA.title} — ")
    assert lines[-1] == "0. ninguno"


def test_only_the_start_of_an_answer_is_shown() -> None:
    last = messages("como protejo mi papa?", [RANCHA])[-1]["content"]
    shown = last.splitlines()[2].split(" — ", 1)[1]
    assert shown.endswith("…")
    assert len(shown) <= ANSWER_START + 1
    assert RANCHA.answer.strip() not in last


def test_a_long_message_is_cut() -> None:
    last = messages("x" * 1000, [])[-1]["content"]
    assert last.splitlines()[0] == "Mensaje: " + "x" * 400


def test_every_example_answer_reads_back_as_its_choice() -> None:
    for text, shown, intent, option in EXAMPLES:
        reading = parse_reading(json.dumps({"intencion": intent, "opcion": option}), len(shown))
        assert reading == ModelReading(Intent(intent), option - 1 if option else None), text


def test_the_grammar_allows_every_intent_and_each_option_shown() -> None:
    properties = SCHEMA["properties"]
    assert set(properties["intencion"]["enum"]) == {i.value for i in Intent}
    assert set(properties["opcion"]["enum"]) == set(range(OPTIONS + 1))


# -- reading the answer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reading"),
    [
        ('{"intencion": "pregunta", "opcion": 2}', ModelReading(Intent.QUESTION, 1)),
        ('{"opcion": 1, "intencion": "riesgo"}', ModelReading(Intent.RISK, 0)),
        ('{"intencion": "fuera_de_tema", "opcion": 0}', ModelReading(Intent.OFF_TOPIC, None)),
        ('  {"intencion": "saludo", "opcion": 0}\n', ModelReading(Intent.SOCIAL, None)),
    ],
)
def test_a_well_formed_answer_is_read(content: str, reading: ModelReading) -> None:
    assert parse_reading(content, 2) == reading


@pytest.mark.parametrize(
    ("content", "reading"),
    [
        ('{"intencion": "riesgo", "opcion": 1', ModelReading(Intent.RISK, 0)),
        ('{"intencion": "pregunta", "opc', ModelReading(Intent.QUESTION, None)),
        ('{"intencion": "persona"', ModelReading(Intent.PERSON, None)),
        ('{"intenc', ModelReading(None, None)),
    ],
)
def test_a_truncated_answer_keeps_what_was_complete(content: str, reading: ModelReading) -> None:
    assert parse_reading(content, 2) == reading


def test_words_before_the_json_are_skipped() -> None:
    content = 'Respuesta: {"intencion": "pregunta", "opcion": 2}'
    assert parse_reading(content, 2) == ModelReading(Intent.QUESTION, 1)


@pytest.mark.parametrize("content", ["", "garbage", "[1, 2]", "null", '"pregunta"', "}{"])
def test_junk_is_no_opinion(content: str) -> None:
    assert parse_reading(content, 2) == ModelReading(None, None)


@pytest.mark.parametrize("intent", ['"bogus"', "5", "null", '"Pregunta"'])
def test_an_unknown_intent_is_no_opinion(intent: str) -> None:
    content = f'{{"intencion": {intent}, "opcion": 1}}'
    assert parse_reading(content, 2).intent is None


@pytest.mark.parametrize("option", ["3", "7", "-1", '"1"', "null"])
def test_an_option_out_of_range_is_none(option: str) -> None:
    content = f'{{"intencion": "pregunta", "opcion": {option}}}'
    assert parse_reading(content, 2).option is None


@pytest.mark.parametrize("option", ["true", "false"])
def test_a_boolean_is_no_option(option: str) -> None:
    content = f'{{"intencion": "pregunta", "opcion": {option}}}'
    assert parse_reading(content, 2).option is None


def test_an_option_is_in_range_only_of_the_options_shown() -> None:
    content = '{"intencion": "pregunta", "opcion": 2}'
    assert parse_reading(content, 1).option is None
    assert parse_reading(content, 3).option == 1
