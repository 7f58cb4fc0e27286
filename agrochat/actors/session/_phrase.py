"""Phrase (optional, ``AGROCHAT_PHRASE=on``): a capable model may reword the composed reply, but
only its wording. Code checks the result: every number and every word that could carry a fact
(a product, a practice, a place) must already be in the composed reply, the entry or the
producer's data; otherwise the composed reply goes out as it was.

Off by default: the packaged 0.5B model invents when it writes (DESIGN.md, "Where a reply's
facts come from"), and a check this strict leaves it little to reword.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from agrochat.knowledge import STOPWORDS
from agrochat.model_output import load_object
from agrochat.text import fold, words

SYSTEM = (
    "Reescribe el mensaje para un agricultor por WhatsApp: más cálido y natural, en español "
    "sencillo y corto. No agregues ni quites datos, cifras, fechas, productos ni consejos. "
    "Conserva la línea 'Fuente: ...' tal cual. Responde solo con el JSON pedido."
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"texto": {"type": "string", "minLength": 1, "maxLength": 700}},
    "required": ["texto"],
    "additionalProperties": False,
}
MAX_TOKENS = 260

# Words a rewording may add without adding a fact.
CONNECTIVES = frozenset(
    words(
        """
        hola estimado estimada amigo amiga querido querida recuerda recuerde importante consejo
        consejos sugiero sugerencia recomiendo recomendamos puedes puede puedas pueda debes
        debe tienes tiene espero ojala suerte saludos gracias cuidate claro mira mire aqui
        algunas algunos tambien ademas entonces asi mejor mucho muchos muchas siempre ayudarte
        ayuda cualquier duda dudas escribeme escribenos consultar consulta cuenta tener hacer
        hacerlo esto este estas estos eso esas esos cual cuales manera forma
        """
    )
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def messages(text: str) -> tuple[dict[str, str], ...]:
    return (
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": text},
    )


def parse(content: str) -> str | None:
    data = load_object(content) or {}
    value = data.get("texto")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _numbers(text: str) -> list[str]:
    return sorted(n.replace(",", ".") for n in _NUMBER.findall(text))


def keeps_the_facts(rewritten: str, composed: str, allowed: Iterable[str] = ()) -> bool:
    """Whether ``rewritten`` says what ``composed`` says and nothing more: the same figures (none
    dropped, none added), the same source line, no word that could carry a fact unless it is in
    the composed reply or the ``allowed`` texts (the entry, the producer's data), and no more
    negations ("no", "nunca": one flips a piece of advice)."""
    if _numbers(rewritten) != _numbers(composed):
        return False
    source = next((line for line in composed.splitlines() if line.startswith("Fuente:")), None)
    if source is not None and source not in rewritten:
        return False
    folded_rewritten, folded_composed = fold(rewritten).split(), fold(composed).split()
    negations = ("no", "nunca", "jamas", "ni", "tampoco", "sin")
    if sum(w in negations for w in folded_rewritten) > sum(w in negations for w in folded_composed):
        return False
    known = set(folded_composed) | set(fold(" ".join(allowed)).split()) | STOPWORDS | CONNECTIVES
    return all(w in known for w in folded_rewritten if len(w) >= 3 and not w.isdigit())
