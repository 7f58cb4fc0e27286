"""Forms are data (``forms/<name>.json``); this module loads them and validates values.

Every value, whoever proposes it (the model's ``acciones.actualizar_formulario``, a producer's
plain answer to a question, ``POST /form/update``), goes through ``validate_value`` before it is
stored, and is stored in one normal form: dates as ISO ``YYYY-MM-DD``, numbers in the field's
unit as a plain decimal (``"0.5"``), enumerations as their canonical option (``"aspersión"``),
text cleaned of greetings and "me llamo". A rejected value is never stored; the reason is
producer-facing Spanish, because the conversation may quote it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from agrochat.text import collapse_spaces, contains_phrase, fold, strip_accents

FIELD_TYPES = ("text", "number", "date", "enum")


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    question: str
    label: str
    required: bool = False
    min_length: int = 1
    max_length: int = 200
    max_words: int | None = None
    letters_only: bool = False
    title_case: bool = False
    strip_prefixes: tuple[str, ...] = ()
    # enum: canonical option -> synonyms (folded when loaded)
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    allow_other: bool = False
    # number
    unit: str | None = None
    units: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_unit: str | None = None
    min: float | None = None
    max: float | None = None
    # date
    max_future_days: int = 0
    max_past_days: int = 3650


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    fields: tuple[FormField, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def get(self, name: str) -> FormField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def missing(self, values: Mapping[str, str]) -> list[str]:
        """Required fields without a value, in the form's order."""
        return [f.name for f in self.fields if f.required and not values.get(f.name)]

    def next_missing(self, values: Mapping[str, str]) -> FormField | None:
        for f in self.fields:
            if f.required and not values.get(f.name):
                return f
        return None


@dataclass(frozen=True)
class Accepted:
    value: str


@dataclass(frozen=True)
class Rejected:
    reason: str


Validation = Accepted | Rejected


@dataclass(frozen=True)
class FormValidation:
    values: dict[str, str]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


# -- loading ---------------------------------------------------------------------------


def parse_form(data: Mapping[str, Any]) -> Form:
    """A Form from its JSON definition; ValueError naming what is wrong."""
    fields: list[FormField] = []
    seen: set[str] = set()
    for raw in data["fields"]:
        name = raw["name"]
        if name in seen:
            raise ValueError(f"field {name!r} is defined twice")
        seen.add(name)
        if raw["type"] not in FIELD_TYPES:
            raise ValueError(f"field {name!r}: unknown type {raw['type']!r}")
        options = {
            canonical: tuple(dict.fromkeys([fold(canonical), *(fold(s) for s in synonyms)]))
            for canonical, synonyms in raw.get("options", {}).items()
        }
        units = {
            unit: tuple(dict.fromkeys([fold(unit), *(fold(s) for s in synonyms)]))
            for unit, synonyms in raw.get("units", {}).items()
        }
        if raw["type"] == "enum" and not options:
            raise ValueError(f"field {name!r}: an enum needs options")
        fields.append(
            FormField(
                name=name,
                type=raw["type"],
                question=raw["question"],
                label=raw.get("label", name),
                required=bool(raw.get("required", False)),
                min_length=int(raw.get("min_length", 1)),
                max_length=int(raw.get("max_length", 200)),
                max_words=raw.get("max_words"),
                letters_only=bool(raw.get("letters_only", False)),
                title_case=bool(raw.get("title_case", False)),
                strip_prefixes=tuple(
                    sorted((fold(p) for p in raw.get("strip_prefixes", [])), key=len, reverse=True)
                ),
                options=options,
                allow_other=bool(raw.get("allow_other", False)),
                unit=raw.get("unit"),
                units=units,
                default_unit=raw.get("default_unit", raw.get("unit")),
                min=raw.get("min"),
                max=raw.get("max"),
                max_future_days=int(raw.get("max_future_days", 0)),
                max_past_days=int(raw.get("max_past_days", 3650)),
            )
        )
    return Form(name=data["name"], title=data.get("title", data["name"]), fields=tuple(fields))


@functools.cache
def load_form(name: str = "perfil") -> Form:
    """A packaged form definition (``forms/<name>.json``)."""
    if not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"bad form name {name!r}")
    text = (
        resources.files("agrochat.actors.session")
        .joinpath(f"forms/{name}.json")
        .read_text(encoding="utf-8")
    )
    return parse_form(json.loads(text))


# -- validating ------------------------------------------------------------------------


def validate_fields(form: Form, raw: Mapping[str, object], *, today: dt.date) -> FormValidation:
    """Validate a set of proposed values: the accepted ones normalised, and why each other
    one was rejected (an unknown field is an error too)."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, value in raw.items():
        spec = form.get(name)
        if spec is None:
            errors[name] = "campo desconocido"
            continue
        result = validate_value(spec, value, today=today)
        if isinstance(result, Accepted):
            values[name] = result.value
        else:
            errors[name] = result.reason
    return FormValidation(values=values, errors=errors)


def validate_value(spec: FormField, raw: object, *, today: dt.date) -> Validation:
    if isinstance(raw, bool) or raw is None:
        return Rejected("falta el valor")
    if spec.type == "number" and isinstance(raw, int | float):
        return _check_number(spec, float(raw))
    if not isinstance(raw, str):
        return Rejected("debe ser texto")
    text = collapse_spaces(raw)
    if not text:
        return Rejected("está vacío")
    if len(text) > 500:
        return Rejected("es demasiado largo")
    if spec.type == "text":
        return _validate_text(spec, text)
    if spec.type == "enum":
        return _validate_enum(spec, text)
    if spec.type == "number":
        return _validate_number(spec, text)
    return _validate_date(spec, text, today)


# -- text ------------------------------------------------------------------------------

_GREETINGS = (
    "hola",
    "buenos dias",
    "buenas tardes",
    "buenas noches",
    "buenas",
    "saludos",
    "ok",
    "claro",
    "si",
)
_LETTERS = re.compile(r"^[^\W\d_]+(?:[ '.\-][^\W\d_]+)*\.?$")


def _drop_leading(text: str, phrases: Sequence[str]) -> str:
    """Drop one leading phrase (matched on folded words) from ``text``, keeping the rest as
    written."""
    folded_words = fold(text).split()
    for phrase in phrases:
        p_words = phrase.split()
        if p_words and folded_words[: len(p_words)] == p_words and len(folded_words) > len(p_words):
            # Find where the phrase ends in the original text: skip as many words.
            parts = re.split(r"([\s,.;:!¡¿?]+)", text.strip())
            count = 0
            for i, part in enumerate(parts):
                if part and not re.fullmatch(r"[\s,.;:!¡¿?]+", part):
                    count += 1
                    if count == len(p_words):
                        return "".join(parts[i + 1 :]).strip(" ,.;:!¡")
    return text


def clean_answer(text: str, prefixes: Sequence[str] = ()) -> str:
    """'Hola, me llamo Juan Pérez.' -> 'Juan Pérez'."""
    text = collapse_spaces(text).strip(" ,.;:!¡")
    for _ in range(2):
        text = _drop_leading(text, _GREETINGS)
    text = _drop_leading(text, prefixes)
    return text.strip(" ,.;:!¡")


def _validate_text(spec: FormField, text: str) -> Validation:
    if "?" in text or "¿" in text:
        return Rejected("es una pregunta, no un dato")
    value = clean_answer(text, spec.strip_prefixes)
    if len(value) < spec.min_length:
        return Rejected("es demasiado corto")
    if len(value) > spec.max_length:
        return Rejected(f"es demasiado largo (máximo {spec.max_length} caracteres)")
    if spec.max_words is not None and len(value.split()) > spec.max_words:
        return Rejected("es demasiado largo; escribe solo el dato")
    if not any(ch.isalpha() for ch in value):
        return Rejected("debe tener letras")
    if spec.letters_only and not _LETTERS.match(value):
        return Rejected("solo puede tener letras")
    if spec.title_case and value == value.lower():
        value = " ".join(w[:1].upper() + w[1:] for w in value.split())
    return Accepted(value)


# -- enumerations ----------------------------------------------------------------------


def _validate_enum(spec: FormField, text: str) -> Validation:
    folded = fold(text)
    for canonical, synonyms in spec.options.items():
        if folded in synonyms:
            return Accepted(canonical)
    matched = {
        canonical
        for canonical, synonyms in spec.options.items()
        if any(contains_phrase(folded, s) for s in synonyms)
    }
    if len(matched) == 1:
        return Accepted(matched.pop())
    choices = ", ".join(spec.options)
    if len(matched) > 1:
        return Rejected(f"no está claro; elige uno: {choices}")
    if spec.allow_other:
        value = clean_answer(text).lower()
        if (
            "?" not in text
            and 2 <= len(value) <= spec.max_length
            and len(value.split()) <= 3
            and _LETTERS.match(value)
        ):
            return Accepted(value)
    return Rejected(f"no es una opción válida; elige uno: {choices}")


# -- numbers ---------------------------------------------------------------------------

_NUMBER_WORDS = {
    "un": 1.0,
    "una": 1.0,
    "uno": 1.0,
    "dos": 2.0,
    "tres": 3.0,
    "cuatro": 4.0,
    "cinco": 5.0,
    "seis": 6.0,
    "siete": 7.0,
    "ocho": 8.0,
    "nueve": 9.0,
    "diez": 10.0,
    "once": 11.0,
    "doce": 12.0,
    "quince": 15.0,
    "veinte": 20.0,
    "media": 0.5,
    "medio": 0.5,
    "cuarto": 0.25,
}
# Units producers use that are not a fixed area (a "manzana" or a "topo" differs by country):
# asking again beats storing a guess.
_AMBIGUOUS_UNITS = (
    "manzana",
    "manzanas",
    "fanegada",
    "fanegadas",
    "yugada",
    "yugadas",
    "topo",
    "topos",
    "cuadra",
    "cuadras",
    "tarea",
    "tareas",
    "cuerda",
    "cuerdas",
    "acre",
    "acres",
)
_TO_BASE = {"ha": 1.0, "m2": 0.0001}
# "2 o 3", "2 a 3", "2-3": a range is not one value.
_RANGE = re.compile(r"\d\s*(?:o|a|y|-|ó|u)\s*\d")
_NUM = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+|\d+(?:[.,]\d+)?)(?![\w])")


def _format_number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _check_number(spec: FormField, value: float) -> Validation:
    if value != value or value in (float("inf"), float("-inf")):
        return Rejected("no es un número")
    if spec.min is not None and value < spec.min:
        return Rejected(f"debe ser al menos {_format_number(spec.min)} {spec.unit or ''}".strip())
    if spec.max is not None and value > spec.max:
        return Rejected(
            f"debe ser como máximo {_format_number(spec.max)} {spec.unit or ''}".strip()
        )
    return Accepted(_format_number(value))


def _unit_after(spec: FormField, folded_rest: str) -> str | None:
    """The unit named right after a number (``folded_rest`` starts after the number)."""
    for unit, synonyms in spec.units.items():
        for s in sorted(synonyms, key=len, reverse=True):
            if folded_rest == s or folded_rest.startswith(s + " "):
                return unit
    return None


def _word_number(spec: FormField, folded: str) -> list[tuple[float, str | None]]:
    """'media hectárea', 'una hectárea y media', 'un cuarto de hectárea', 'dos'.

    Without digits a number word counts only when a unit follows it or it is the whole
    answer: "tengo una chacra" is not one hectare.
    """
    tokens = folded.split()
    for i, token in enumerate(tokens):
        if token not in _NUMBER_WORDS:
            continue
        number = _NUMBER_WORDS[token]
        j = i + 1
        if token in ("un", "una") and j < len(tokens) and tokens[j] in ("cuarto", "media", "medio"):
            number = _NUMBER_WORDS[tokens[j]]
            j += 1
        rest = tokens[j:]
        if rest[:2] == ["y", "media"] and number >= 1:
            rest = rest[2:]
        if rest[:1] == ["de"]:
            rest = rest[1:]
        unit = _unit_after(spec, " ".join(rest))
        if number >= 1 and contains_phrase(folded, "y media"):
            number += 0.5
        if unit is None and rest:
            continue
        return [(number, unit)]
    return []


def _validate_number(spec: FormField, text: str) -> Validation:
    lowered = strip_accents(text.lower()).replace("m²", "m2")
    # "5000m2" -> "5000 m2", so the number ends at a word boundary.
    lowered = re.sub(r"(\d)([a-z])", r"\1 \2", lowered)
    folded = fold(lowered)
    if any(contains_phrase(folded, u) for u in _AMBIGUOUS_UNITS):
        return Rejected("dímelo en hectáreas o metros cuadrados")
    if _RANGE.search(lowered):
        return Rejected("hay más de un número; escribe solo uno")
    if lowered.lstrip().startswith("-"):
        return Rejected("no puede ser negativo")
    candidates: list[tuple[float, str | None]] = []
    for match in _NUM.finditer(lowered):
        raw = match.group(1)
        rest = fold(lowered[match.end() :])
        unit = _unit_after(spec, rest)
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", raw):
            # "5.000 m2": a dot before exactly three digits is a thousands separator in
            # Spanish; "1.500 ha" is read the same way (a 1.5 would be written 1,5 or 1.5).
            number = float(raw.replace(".", ""))
        else:
            number = float(raw.replace(",", "."))
        candidates.append((number, unit))
    if not candidates:
        candidates = _word_number(spec, folded)
    with_unit = [c for c in candidates if c[1] is not None]
    if len(with_unit) == 1:
        number, unit = with_unit[0]
    elif len(candidates) == 1:
        number, unit = candidates[0]
    elif not candidates:
        return Rejected("no encuentro un número")
    else:
        return Rejected("hay más de un número; escribe solo uno")
    unit = unit or spec.default_unit or spec.unit
    base = spec.unit or unit
    if unit != base and unit in _TO_BASE and base in _TO_BASE:
        number = number * _TO_BASE[unit] / _TO_BASE[base]
    return _check_number(spec, number)


# -- dates -----------------------------------------------------------------------------

_MONTHS = {
    "enero": 1,
    "ene": 1,
    "febrero": 2,
    "feb": 2,
    "marzo": 3,
    "mar": 3,
    "abril": 4,
    "abr": 4,
    "mayo": 5,
    "may": 5,
    "junio": 6,
    "jun": 6,
    "julio": 7,
    "jul": 7,
    "agosto": 8,
    "ago": 8,
    "septiembre": 9,
    "setiembre": 9,
    "sept": 9,
    "sep": 9,
    "set": 9,
    "octubre": 10,
    "oct": 10,
    "noviembre": 11,
    "nov": 11,
    "diciembre": 12,
    "dic": 12,
}
_RELATIVE_DAYS = {
    "hoy": 0,
    "esta mañana": 0,
    "esta manana": 0,
    "ayer": 1,
    "anteayer": 2,
    "antier": 2,
    "antes de ayer": 2,
    "antes de anoche": 2,
    "anoche": 1,
}
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{2}|\d{4}))?\b")
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WRITTEN = re.compile(
    rf"\b(\d{{1,2}})\s+(?:de\s+)?({_MONTH_NAMES})\b(?:\s+(?:de|del)?\s*(\d{{4}}))?"
)
_AGO = re.compile(r"\bhace\s+(\S+)\s+(dia|dias|semana|semanas|mes|meses)\b")


def _date_or_none(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _check_date(spec: FormField, date: dt.date, today: dt.date) -> Validation:
    if date > today + dt.timedelta(days=spec.max_future_days):
        return Rejected(
            "la fecha está en el futuro"
            if spec.max_future_days == 0
            else "la fecha está demasiado lejos en el futuro"
        )
    if date < today - dt.timedelta(days=spec.max_past_days):
        return Rejected("la fecha es demasiado antigua")
    return Accepted(date.isoformat())


def _without_year(spec: FormField, month: int, day: int, today: dt.date) -> Validation:
    """A day and month with no year: the most recent such date that is not in the future
    (questions ask about what happened: "¿qué fecha sembraste?"), else the nearest allowed
    future one."""
    past = [
        d
        for d in (_date_or_none(today.year - k, month, day) for k in (0, 1))
        if d is not None and d <= today
    ]
    if past:
        result = _check_date(spec, past[0], today)
        if isinstance(result, Accepted):
            return result
    future = _date_or_none(today.year, month, day)
    if future is None or future <= today:
        future = _date_or_none(today.year + 1, month, day)
    if future is None:
        return Rejected("esa fecha no existe")
    return _check_date(spec, future, today)


def parse_relative_amount(token: str) -> int | None:
    # ASCII digits only: "²" and its kin pass str.isdigit() but int() refuses them.
    if token.isascii() and token.isdigit():
        return int(token)
    amount = _NUMBER_WORDS.get(token)
    return int(amount) if amount is not None and amount >= 1 else None


def _validate_date(spec: FormField, text: str, today: dt.date) -> Validation:
    lowered = strip_accents(text.lower())
    if m := _ISO.search(lowered):
        date = _date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return _check_date(spec, date, today) if date else Rejected("esa fecha no existe")
    if m := _WRITTEN.search(lowered):
        day, month = int(m.group(1)), _MONTHS[m.group(2)]
        if m.group(3):
            date = _date_or_none(int(m.group(3)), month, day)
            return _check_date(spec, date, today) if date else Rejected("esa fecha no existe")
        return _without_year(spec, month, day, today)
    if m := _NUMERIC.search(lowered):
        # Day first, as written across Latin America: 15/10/2026.
        day, month = int(m.group(1)), int(m.group(2))
        if m.group(3):
            year = int(m.group(3))
            year = year + 2000 if year < 100 else year
            date = _date_or_none(year, month, day)
            return _check_date(spec, date, today) if date else Rejected("esa fecha no existe")
        if _date_or_none(2000, month, day) is None:
            return Rejected("esa fecha no existe")
        return _without_year(spec, month, day, today)
    folded = fold(lowered)
    if m := _AGO.search(folded):
        amount = parse_relative_amount(m.group(1))
        if amount is None:
            return Rejected("no entiendo la fecha; escríbela como 15/10/2026")
        unit = m.group(2)
        days = amount * (7 if unit.startswith("semana") else 30 if unit.startswith("mes") else 1)
        try:
            date = today - dt.timedelta(days=days)
        except OverflowError:
            # Before the year 1 ("hace 800000 dias"): older than any form allows.
            return Rejected("la fecha es demasiado antigua")
        return _check_date(spec, date, today)
    for phrase, days_ago in sorted(_RELATIVE_DAYS.items(), key=lambda kv: -len(kv[0])):
        if contains_phrase(folded, fold(phrase)):
            return _check_date(spec, today - dt.timedelta(days=days_ago), today)
    return Rejected("no entiendo la fecha; escríbela como 15/10/2026")
