"""Which figure a question asks for and which an entry states: "¿cuántos sacos?" is answered by
an amount, never by the "5 a 6 hojas" of an entry about timing."""

from __future__ import annotations

import pytest

from agrochat.knowledge import answers_figure, asked_figure
from agrochat.knowledge._figures import stated


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("cuantos sacos de urea por hectarea le echo a mi maiz", "amount"),
        ("cuantos kilos de guano de isla le pongo a cada planta de cacao", "amount_per_plant"),
        ("cuantos litros de agua por planta al dia le doy a mi palto", "amount_per_plant"),
        ("cuanto rinde por hectarea la papa yungay", "yield"),
        ("cuantos quintales por hectarea deberia sacar de cafe", "yield"),
        ("cada cuanto riego", "time"),
        ("cuantos dias despues de la siembra cosecho", "time"),
        ("cuanto tiempo antes de la siembra aro la tierra", "time"),
        ("que fecha exacta me toca sembrar el arroz", "date"),
        ("cual es la mejor fecha para sembrar papa aqui", "date"),
        ("cuanta lluvia al año necesita el cacao", "amount"),
        ("a que distancia siembro la cebolla", "length"),
        ("cuantas veces fumigo", "count"),
        ("como riego mi papa", None),
        ("que variedad me recomienda para la sierra", None),
    ],
)
def test_the_kind_of_figure_a_question_asks_for(question: str, kind: str | None) -> None:
    assert asked_figure(question) == kind


@pytest.mark.parametrize(
    ("answer", "kinds"),
    [
        ("El maíz pide nutrientes cuando tiene unas 5 a 6 hojas.", {"count"}),
        ("Con 2 t/ha de guano se obtuvo más.", {"amount", "count"}),
        ("Aplica 200 g por planta al inicio de lluvias.", {"amount", "amount_per_plant", "count"}),
        ("Rinde en promedio 3 toneladas por hectárea, frente a 800 kilos.", {"yield", "count"}),
        ("Tiene un potencial de 4,5 toneladas por hectárea.", {"yield", "count"}),
        ("Riega cada 7 días.", {"time", "count"}),
        ("Revisa los filtros cada semana.", {"time"}),
        ("Siembra a 30 cm entre plantas.", {"length", "count"}),
        ("Siembra de octubre a diciembre, con las lluvias.", {"date"}),
        ("Quita las hojas enfermas.", set()),
        ("Necesita de 1500 a 2500 mm de lluvia al año.", {"amount", "length", "count"}),
    ],
)
def test_the_kinds_of_figure_an_answer_states(answer: str, kinds: set[str]) -> None:
    assert stated(answer) == frozenset(kinds)


def test_a_question_without_a_figure_is_answered_by_any_entry() -> None:
    assert answers_figure(None, frozenset())
    assert not answers_figure("amount", frozenset({"count", "yield"}))
    assert answers_figure("amount", stated("Aplica 200 g por planta."))
