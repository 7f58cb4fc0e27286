"""The optional rewording: a capable model may change how a reply reads, never what it states. A
rewording that only reorders or adds connectives passes; one that adds a number or a product,
or drops the source line, is thrown away."""

from __future__ import annotations

import pytest

from agrochat.actors.session._phrase import SYSTEM, keeps_the_facts, messages, parse

COMPOSED = (
    "Rosa, sobre tu papa (sembraste hace 110 días):\n"
    "Riega cada 7 días en la floración, temprano en la mañana.\n"
    "Fuente: INIA, 2019."
)
ENTRY = "Riega cada 7 días en la floración, temprano en la mañana."
PROFILE = [ENTRY, "papa", "2025-11-20", "Rosa Quispe"]


@pytest.mark.parametrize(
    "rewritten",
    [
        "Rosa, sobre tu papa (sembraste hace 110 días): temprano en la mañana, riega cada 7 "
        "días en la floración.\nFuente: INIA, 2019.",
        "Hola Rosa, sobre tu papa (sembraste hace 110 días): recuerda que es importante: riega "
        "cada 7 días en la floración, temprano en la mañana.\nFuente: INIA, 2019.",
        "Rosa, sobre tu papa (sembraste hace 110 dias): riega cada 7 dias en la floracion, "
        "temprano en la manana.\nFuente: INIA, 2019.",
    ],
)
def test_a_rewording_that_only_reorders_or_adds_connectives_keeps_the_facts(
    rewritten: str,
) -> None:
    assert keeps_the_facts(rewritten, COMPOSED, PROFILE)


@pytest.mark.parametrize(
    "rewritten",
    [
        "Rosa, sobre tu papa (sembraste hace 110 días): riega cada 5 días en la floración.\n"
        "Fuente: INIA, 2019.",
        "Rosa, sobre tu papa (sembraste hace 110 días): riega cada 7 días en la floración, "
        "con 2 litros por planta.\nFuente: INIA, 2019.",
        "Rosa, sobre tu papa (sembraste hace 110 días): riega cada 7 días.\nFuente: INIA, 2021.",
    ],
)
def test_a_rewording_with_a_new_or_changed_figure_is_rejected(rewritten: str) -> None:
    assert not keeps_the_facts(rewritten, COMPOSED, PROFILE)


def test_a_rewording_that_drops_a_figure_is_rejected() -> None:
    dropped = "Rosa, riega cada 7 días en la floración.\nFuente: INIA, 2019."
    assert not keeps_the_facts(dropped, COMPOSED, PROFILE)


@pytest.mark.parametrize(
    "added",
    ["y aplica Ridomil", "con urea", "con DDT y cal", "en Huancayo"],
)
def test_a_rewording_with_a_new_product_or_place_is_rejected(added: str) -> None:
    rewritten = COMPOSED.replace("temprano en la mañana", f"temprano en la mañana, {added}")
    assert not keeps_the_facts(rewritten, COMPOSED, PROFILE)


def test_a_rewording_that_adds_a_negation_is_rejected() -> None:
    rewritten = COMPOSED.replace("Riega cada", "No riegues cada")
    assert not keeps_the_facts(rewritten, COMPOSED, PROFILE)


def test_a_rewording_with_another_source_or_none_is_rejected() -> None:
    assert not keeps_the_facts(COMPOSED.replace("INIA", "SENASA"), COMPOSED, PROFILE)
    assert not keeps_the_facts(COMPOSED.rsplit("\n", 1)[0], COMPOSED, PROFILE)


def test_a_reply_without_a_source_needs_none() -> None:
    composed = "Le pasé tu mensaje a una persona del equipo; te contactará pronto."
    assert keeps_the_facts("Hola, le pasé tu mensaje a una persona del equipo.", composed)


def test_the_producers_own_data_may_be_used() -> None:
    rewritten = COMPOSED.replace("Rosa,", "Rosa Quispe,")
    assert keeps_the_facts(rewritten, COMPOSED, PROFILE)
    assert not keeps_the_facts(rewritten, COMPOSED, [ENTRY])


# -- the request and its answer --------------------------------------------------------------


def test_the_request_is_the_instruction_and_the_composed_reply() -> None:
    assert messages(COMPOSED) == (
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": COMPOSED},
    )


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ('{"texto": "Hola Rosa, riega temprano."}', "Hola Rosa, riega temprano."),
        ('{"texto": "  Riega temprano.\\n"}', "Riega temprano."),
        ('Aquí está: {"texto": "Riega temprano."}', "Riega temprano."),
    ],
)
def test_a_rewording_is_read_from_its_json(content: str, text: str) -> None:
    assert parse(content) == text


@pytest.mark.parametrize(
    "content",
    [
        '{"texto": "Riega cada 7 días en la flora',
        '{"texto": "   "}',
        '{"texto": 5}',
        '{"texto": ["Riega"]}',
        '{"otro": "Riega temprano."}',
        "[]",
        "nada",
        "",
    ],
)
def test_a_cut_empty_or_malformed_rewording_is_not_used(content: str) -> None:
    assert parse(content) is None
