"""Which profile values a producer's message states, read by code with the form's own validators.

A value is taken only where the producer said it as that field: a crop after "siembro", an area
with its unit, a date after "sembré", a name after "me llamo", a place after "vivo en" — or any
plain answer to the question agrochat asked last. "Mi papa tiene rancha" names a crop but
registers nothing; "el 15" is no area. (Seen live before: a small model proposing "huancayo" as
the crop and the 15 of "15 de septiembre" as 15 ha.)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from agrochat.actors.session._forms import Accepted, Form, FormField, validate_value
from agrochat.knowledge import common_word
from agrochat.text import contains_phrase, fold, words

# Words before a value that make it that field's (folded, matched as whole words).
CUES: Mapping[str, tuple[str, ...]] = {
    "cultivo": (
        "siembro",
        "sembramos",
        "siembra de",
        "cultivo",
        "cultivamos",
        "produzco",
        "producimos",
        "tengo",
        "tenemos",
        "mi cultivo es",
        "cultivo principal",
        "planto",
        "sembre",
        "sembramos",
        "soy productor de",
        "soy productora de",
        "productor de",
        "productora de",
        "chacra de",
        "parcela de",
    ),
    "fecha_siembra": ("sembre", "sembramos", "siembre", "sembrado", "sembrada", "siembra fue"),
    "ultimo_riego": ("regue", "regamos", "ultimo riego", "ultima vez que regue", "riego fue"),
    "tipo_riego": ("riego", "riegas", "regamos", "riegamos", "con", "por", "bajo", "todo"),
    "fuente_agua": ("agua de", "agua del", "agua viene", "sacamos el agua", "saco el agua"),
    "tipo_suelo": ("suelo", "tierra", "terreno"),
}
_NAME = re.compile(
    r"\b(?:me llamo|mi nombre es|mi nombre|soy el senor|soy la senora|soy don|soy dona|soy)\s+"
    r"(?P<value>[^\W\d_]+(?:\s+[^\W\d_]+){0,3})",
)
_NAME_STOP = frozenset(
    [
        "de",
        "del",
        "y",
        "en",
        "con",
        "que",
        "productor",
        "productora",
        "agricultor",
        "agricultora",
        "tengo",
        "siembro",
        "cultivo",
        "vivo",
        "estoy",
        "la",
        "el",
        "mi",
        "su",
        "un",
        "una",
        "nuevo",
        "nueva",
        "aqui",
        "desde",
    ]
)
_PLACE = re.compile(
    r"\b(?:vivo en|estoy en|soy de|somos de|mi chacra esta en|mi parcela esta en|mi terreno esta "
    r"en|mi chacra queda en|queda en|distrito de|del distrito de|comunidad de|provincia de|"
    r"caserio de|anexo de|"
    r"siembro en|cultivo en|sembramos en|trabajo en)\s+(?P<value>[^\W\d_]+(?:\s+[^\W\d_]+){0,2})",
)
_NAMED_PLACE = re.compile(r"(?:del )?(?:distrito|comunidad|provincia|caserio|anexo) de\b")
_PLACE_AFTER_NAME = re.compile(
    r"\b(?:me llamo|soy|mi nombre es)\s+[^\W\d_]+(?:\s+[^\W\d_]+){0,2}?\s+(?:de|del)\s+"
    r"(?P<value>[^\W\d_]+(?:\s+[^\W\d_]+){0,1})"
)
_PLACE_STOP = frozenset(
    [
        "y",
        "con",
        "que",
        "tengo",
        "siembro",
        "cultivo",
        "hectareas",
        "hectarea",
        "ha",
        "has",
        "la",
        "el",
        "mi",
        "mis",
        "una",
        "un",
        "por",
        "riego",
        "goteo",
        "aspersion",
        "papa",
        "maiz",
        "cafe",
        "cacao",
        "arroz",
        "frijol",
        "quinua",
        "trigo",
        "cebada",
        "yuca",
        "platano",
        "tomate",
        "cebolla",
        "palta",
        "aqui",
        "alla",
        "ahi",
        "acá",
        "zona",
        "sierra",
        "selva",
        "costa",
        "campo",
        "chacra",
    ]
)


# "el agua la jalamos del canal", "agua tenemos de la represa": water, then where it comes from.
_WATER_FROM = re.compile(r"\bagua\b.*\b(?:del|de la|de un|de una|desde el|desde la)\b")


def _cued(folded: str, field: str) -> bool:
    if field == "fuente_agua" and _WATER_FROM.search(folded):
        return True
    return any(contains_phrase(folded, cue) for cue in CUES.get(field, ()))


def _phrase(match: re.Match[str] | None, stop: frozenset[str]) -> str | None:
    if match is None:
        return None
    kept: list[str] = []
    for word in match.group("value").split():
        if fold(word) in stop:
            break
        kept.append(word)
    return " ".join(kept) or None


def _original_span(text: str, folded_value: str) -> str:
    """``folded_value`` as the producer wrote it (accents and capitals kept)."""
    words = text.split()
    want = folded_value.split()
    for i in range(len(words) - len(want) + 1):
        window = words[i : i + len(want)]
        if [fold(w) for w in window] == want:
            return " ".join(w.strip(" ,.;:!¡?¿") for w in window)
    return folded_value


# A place written with a capital after "en"/"de" ("tengo cacao en Pangoa"), not at the start.
_CAPITALISED_PLACE = re.compile(
    r"(?<=\w)[ ,]+(?:en|de|del)\s+(?P<value>[A-ZÁÉÍÓÚÑ][\wáéíóúñ]+(?:\s+[A-ZÁÉÍÓÚÑ][\wáéíóúñ]+)?)"
)
# Words that make a comma-separated piece a sentence rather than a bare value.
_SENTENCE_WORDS = frozenset(
    words(
        "me llamo soy siembro sembre tengo cultivo vivo en de del mi mis el la los las con por "
        "es y que riego"
    )
)
# "2 ha y media", "2 y media hectáreas", "1/2 ha": the half the validators would drop.
_HALF = re.compile(r"\b(\d+)\s*(ha |has |hectareas? )?y\s+media\b")
_ONE_HALF = re.compile(r"(?<![\d/])1/2\b")
# A bare number is an answer to "¿cuántas hectáreas?" only when it is the whole reply ("3",
# "unas 3", "2 y media"): "el 15 de septiembre" is a date.
_BARE_NUMBER = re.compile(
    r"^(?:son |como |unas? |casi |mas o menos |aproximadamente |aprox )?\d+(?:[.,]\d+)?"
    r"(?: mas o menos| nomas| aproximadamente)?$"
)
MONTHS = frozenset(
    words(
        "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre "
        "noviembre diciembre"
    )
)
# Said after "soy": what the producer is, not their name.
_NOT_A_NAME = frozenset(
    words(
        "muy bien el la un una de del productor productora agricultor agricultora socio socia "
        "pequeno pequena nuevo nueva pobre campesino campesina comunero comunera ganadero "
        "cafetalero cafetalera cacaotero arrocero papero de la del usuario miembro parte "
        "presidente dirigente tecnico ingeniero senor senora don dona joven viejo mayor"
    )
)


def _half(match: re.Match[str]) -> str:
    return f"{match.group(1)}.5 {match.group(2) or ''}".rstrip()


def extract_fields(
    text: str,
    form: Form,
    *,
    today: dt.date,
    asked: FormField | None = None,
    plain: bool = True,
) -> dict[str, str]:
    """The values ``text`` states, by field name, each already valid for its field.

    ``asked``: the field agrochat's previous reply asked for; the whole message may be its value
    when it is ``plain`` (no question, no greeting alone, no farming talk: "cómo riego mi papa"
    is no name, "hola" neither).
    """
    text = _ONE_HALF.sub("0.5", _HALF.sub(_half, text))
    folded = fold(text)
    found: dict[str, str] = {}
    if asked is not None and plain and "," in text:
        found.update(_listed(text, form, today, asked))
    if asked is not None and plain and asked.name not in found:
        value = _answer(asked, text, folded, today)
        if value is not None:
            found[asked.name] = value

    for spec in form.fields:
        if spec.name in found:
            continue
        value = _field_value(spec, text, folded, today)
        if value is not None:
            found[spec.name] = value
    if found and "?" not in text:
        # A registration sentence ("arroz, 8 hectáreas bajo inundación en Ferreñafe"): the
        # one option it names of a choice it left out is that choice too, without its cue.
        for spec in form.fields:
            if spec.type != "enum" or not spec.required or spec.name in found:
                continue
            named = {
                canonical
                for canonical, synonyms in spec.options.items()
                if any(contains_phrase(folded, s) for s in synonyms)
            }
            if len(named) == 1:
                found[spec.name] = named.pop()
    return found


def _listed(text: str, form: Form, today: dt.date, asked: FormField) -> dict[str, str]:
    """A registration written as a list ("Rosalía Ccama, quinua, Cabanillas"): each piece that
    is a whole value of a missing field, in the form's order, the asked field first."""
    pieces = [p.strip(" .;:") for p in text.split(",") if p.strip(" .;:")]
    if len(pieces) < 2:
        return {}
    order = [asked, *(f for f in form.fields if f is not asked and f.required)]
    options = {w for f in form.fields for synonyms in f.options.values() for w in synonyms}
    found: dict[str, str] = {}
    for piece in pieces:
        if len(piece.split()) > 4 or set(fold(piece).split()) & _SENTENCE_WORDS:
            continue  # a sentence, not a bare value: the patterns below read it
        for spec in order:
            if spec.name in found:
                continue
            if spec.type == "text" and fold(piece) in options:
                continue  # "quinua" is a crop, not a name
            value = _whole_value(spec, piece, today)
            if value is not None:
                found[spec.name] = value
                break
    return found


def _whole_value(spec: FormField, piece: str, today: dt.date) -> str | None:
    """``piece`` as this field's value when it is nothing else: an option's exact word, or what
    the field's validator accepts of the whole piece."""
    folded = fold(piece)
    if spec.type == "enum":
        for canonical, synonyms in spec.options.items():
            if folded in synonyms:
                return canonical
        return None
    return _accepted(spec, piece, today)


def _answer(spec: FormField, text: str, folded: str, today: dt.date) -> str | None:
    """The whole reply as the value of the field we asked for."""
    if spec.type == "number" and not _BARE_NUMBER.match(folded) and not _has_unit(spec, folded):
        return None
    if spec.type == "text" and len(folded.split()) > (spec.max_words or 6):
        return None
    if spec.name == "distrito" and not _a_place(folded, text):
        return None
    return _accepted(spec, text, today)


def _has_unit(spec: FormField, folded: str) -> bool:
    return any(
        contains_phrase(folded, fold(s)) for synonyms in spec.units.values() for s in synonyms
    )


def _a_place(folded: str, original: str) -> bool:
    """A month or a common word is no district ("siembro en marzo", "estoy en problemas");
    a capitalised word is taken as the producer wrote it."""
    if folded in MONTHS:
        return False
    if len(folded.split()) == 1 and common_word(folded):
        return original.strip()[:1].isupper()
    return True


def _field_value(spec: FormField, text: str, folded: str, today: dt.date) -> str | None:
    if spec.name == "nombre":
        match = _NAME.search(folded)
        raw = _phrase(match, _NAME_STOP)
        if raw is None or match is None:
            return None
        said = _original_span(text, raw)
        if match.group(0).startswith("soy") and (
            raw.split()[0] in _NOT_A_NAME or not said[:1].isupper()
        ):
            # "soy Rosa Quispe" names; "soy muy pobre", "soy socio" do not.
            return None
        return _accepted(spec, said, today)
    if spec.name == "distrito":
        for pattern in (_PLACE, _PLACE_AFTER_NAME):
            for match in pattern.finditer(folded):
                raw = _phrase(match, _PLACE_STOP)
                said = _original_span(text, raw) if raw else ""
                # "distrito de imperial" names a place however it is written; after "estoy
                # en" a common word ("problemas") is taken only capitalised.
                named = _NAMED_PLACE.match(match.group(0)) is not None
                if raw and ((named and raw not in MONTHS) or _a_place(raw, said)):
                    value = _accepted(spec, said, today)
                    if value is not None:
                        return value
        capital = _CAPITALISED_PLACE.search(text)
        if capital is not None:
            raw = fold(capital.group("value"))
            if raw not in _PLACE_STOP and raw not in MONTHS:
                return _accepted(spec, capital.group("value"), today)
        return None
    if spec.type == "number":
        # Only a number written with this field's unit ("2 hectáreas", "5000 m2").
        return _accepted(spec, text, today) if _has_unit(spec, folded) else None
    if spec.type == "enum":
        if not _cued(folded, spec.name):
            return None
        matched = {
            canonical
            for canonical, synonyms in spec.options.items()
            if any(contains_phrase(folded, s) for s in synonyms)
        }
        return matched.pop() if len(matched) == 1 else None
    if spec.type == "date":
        if not _cued(folded, spec.name):
            return None
        return _accepted(spec, text, today)
    return None


def _accepted(spec: FormField, raw: str, today: dt.date) -> str | None:
    result = validate_value(spec, raw, today=today)
    return result.value if isinstance(result, Accepted) else None
