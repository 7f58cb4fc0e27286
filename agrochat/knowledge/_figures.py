"""Which kind of figure a question asks for, and which kinds an entry's answer states.

"¿Cuántos sacos de urea por hectárea?" is answered only by an entry that states an amount; an
entry about timing ("cuando tenga 5 a 6 hojas") has a number, but not the one asked for, and
quoting it would look like an answer while giving none. The kinds:

- ``amount``: kilos, sacks, litres, tonnes… (per hectare, per plant);
- ``amount_per_plant``: an amount for each plant ("cada planta"): a per-hectare figure is no
  answer to it;
- ``time``: days, weeks, months, hours, and "cada cuánto" (how often);
- ``length``: metres, centimetres (spacing, depth);
- ``yield``: what a hectare gives ("¿cuánto rinde?");
- ``date``: when in the year ("¿qué fecha exacta siembro?"), answered by months named;
- ``count``: any other number (how many times, how many seeds), answered by any figure.
"""

from __future__ import annotations

import re

from agrochat.text import fold

AMOUNT = "amount"
AMOUNT_PER_PLANT = "amount_per_plant"
TIME = "time"
LENGTH = "length"
YIELD = "yield"
DATE = "date"
COUNT = "count"

_AMOUNT_UNITS = (
    r"sacos?|kilos?|kilogramos?|kg|quintales?|qq|toneladas?|t|gramos?|g|gr|litros?|lt|l|"
    r"galon\w*|bolsas?|ml|mililitros?|cc|m3|metros cubicos|unidades|mm|milimetros?"
)
_TIME_UNITS = r"dias?|semanas?|meses|mes|horas?|anos?"
_LENGTH_UNITS = r"cm|centimetros?|metros?|m|mm|milimetros?"
_NUMBER = r"\d+(?:[.,]\d+)?"
_PER_PLANT = r"(por|cada|x|a cada|/) ?(planta|mata|arbol|hoyo|golpe)s?\b"

# What an answer states: a number with its unit (ranges "5 a 6 hojas" count as a count).
_STATED = {
    AMOUNT: re.compile(rf"{_NUMBER}\s?(?:a {_NUMBER}\s?)?(?:{_AMOUNT_UNITS})\b"),
    TIME: re.compile(rf"{_NUMBER}\s?(?:a {_NUMBER}\s?)?(?:{_TIME_UNITS})\b"),
    LENGTH: re.compile(rf"{_NUMBER}\s?(?:a {_NUMBER}\s?)?(?:{_LENGTH_UNITS})\b"),
    YIELD: re.compile(
        rf"\b(rendimiento|rinde|rinden|produce|producen|produccion|cosecha|potencial)\w*\b"
        rf"[^.]{{0,40}}"
        rf"{_NUMBER}\s?(?:a {_NUMBER}\s?)?(?:t|toneladas?|kg|kilos?|qq|quintales?|sacos?)\b"
    ),
}
_YIELD_BEFORE = re.compile(
    r"\b(rendimiento|rinde|rinden|produce|producen|produccion|cosecha|potencial)\w*\b"
)
# "cada semana", "una vez al mes": how often, said in words.
_TIME_WORDS = re.compile(
    r"\bcada (dia|semana|mes|ano|campana|riego|cosecha|temporada|\d+)\b|"
    r"\b(diari|semanal|mensual|quincenal|anual)\w*\b|\buna vez (al|por|cada)\b"
)
_MONTHS = re.compile(
    r"\b(enero|febrero|marzo|abril|mayo|junio|julio|agosto|setiembre|septiembre|octubre|"
    r"noviembre|diciembre)\b"
)
_AMOUNT_PER_PLANT = re.compile(
    rf"{_NUMBER}\s?(?:a {_NUMBER}\s?)?(?:{_AMOUNT_UNITS})\b[^.]{{0,25}}{_PER_PLANT}"
)

# What a question asks for (on folded, normalised words), the first that matches: a time or a
# length is asked by its unit; a yield by what the land gives; an amount by its unit.
_ASKED = (
    (AMOUNT, re.compile(r"\bcuant[oa]s? (lluvia|agua)\b")),
    (TIME, re.compile(rf"\bcuant[oa]s?\b.{{0,25}}\b({_TIME_UNITS})\b")),
    (
        DATE,
        re.compile(
            r"\bfecha exacta\b|\b(que|cual) (fecha|dia) (exact[ao]|me toca|debo|tengo)\b|"
            r"\bmejor fecha\b|\ben que fecha\b"
        ),
    ),
    (TIME, re.compile(r"\bcada cuant[oa]s?\b|\bcuanto tiempo\b")),
    (LENGTH, re.compile(rf"\bcuant[oa]s?\b.{{0,25}}\b({_LENGTH_UNITS})\b")),
    (LENGTH, re.compile(r"\b(a que distancia|a cuanta distancia|que profundidad)\b")),
    (
        YIELD,
        re.compile(
            r"\bcuant[oa]s?\b.{0,40}\b(rinde|rinden|rendimiento|produce|producen|sacar|"
            r"sacare|saco|cosechare)\b|\bque rendimiento\b"
        ),
    ),
    (AMOUNT, re.compile(rf"\bcuant[oa]s?\b.{{0,25}}\b({_AMOUNT_UNITS})\b")),
    (AMOUNT, re.compile(r"\b(que cantidad|cuanto abono|cuanto guano|cuanta agua)\b")),
    (COUNT, re.compile(r"\bcuant[oa]s?\b.{0,25}\b(veces|plantas|semillas?|granos?|surcos)\b")),
)


def stated(text: str) -> frozenset[str]:
    """The kinds of figure ``text`` (an entry's answer) states."""
    folded = fold(text)
    kinds = {kind for kind, pattern in _STATED.items() if kind != AMOUNT and pattern.search(folded)}
    # "rinde 3 t/ha, frente a unos 800 kilos" is a yield, not an amount to apply: an amount
    # whose sentence speaks of yield before it counts as one.
    if any(
        not _YIELD_BEFORE.search(folded[: m.start()].rsplit(". ", 1)[-1])
        for m in _STATED[AMOUNT].finditer(folded)
    ):
        kinds.add(AMOUNT)
    if _TIME_WORDS.search(folded):
        kinds.add(TIME)
    if _MONTHS.search(folded):
        kinds.add(DATE)
    if _AMOUNT_PER_PLANT.search(folded):
        kinds.add(AMOUNT_PER_PLANT)
    if re.search(r"\d", folded):
        kinds.add(COUNT)
    return frozenset(kinds)


def asked(joined: str) -> str | None:
    """The kind of figure a question asks for (``joined``: its folded, normalised words), or
    None when it asks for none."""
    for kind, pattern in _ASKED:
        if pattern.search(joined):
            if kind == AMOUNT and re.search(_PER_PLANT, joined):
                return AMOUNT_PER_PLANT
            return kind
    return None


def answers(asked_kind: str | None, stated_kinds: frozenset[str]) -> bool:
    """Whether an answer stating ``stated_kinds`` gives the figure asked for."""
    return asked_kind is None or asked_kind in stated_kinds
