"""Spanish text as agrochat compares it: one folding for forms, retrieval, rules and the panel.

Producers write on phones: accents come and go ("maíz"/"maiz", "mañana"/"manana"), capitals are
random and punctuation is sparse, so every comparison is made on the folded form.
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-z²]+")
_SPACES = re.compile(r"\s+")


def strip_accents(text: str) -> str:
    """'maíz' -> 'maiz', 'mañana' -> 'manana': phone keyboards drop the tilde of ñ as often as
    any accent, so a comparison that kept it would miss what producers type."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def fold(text: str) -> str:
    """Lower case, no accents, punctuation turned into single spaces."""
    folded = strip_accents(text.lower())
    return _NON_WORD.sub(" ", folded).strip()


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return fold(text).split()


def contains_phrase(folded_text: str, folded_phrase: str) -> bool:
    """Whole-word containment on folded text ("por surcos" in "riego por surcos")."""
    if not folded_phrase:
        return False
    return f" {folded_phrase} " in f" {folded_text} "


def mask_phone(phone: str) -> str:
    """Enough of a phone to tell producers apart in logs and /debug, not to dial it."""
    return phone[:4] + "…" + phone[-3:] if len(phone) > 7 else "…"


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# Shorter sentences ("Gracias.", "Sí, papa.") are said back naturally; a longer one found whole
# in what the producer wrote is a small model repeating the conversation.
ECHO_MIN_WORDS = 3


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def drop_echoes(reply: str, *, producer_said: list[str], ours: list[str]) -> str:
    """The model's reply without sentences it copied: what the producer wrote (long enough to
    be a copy), or what agrochat itself adds to replies (greeting, form questions, notes), which
    a small model repeats from the history. Advice repeated from an earlier reply is kept: the
    producer may have asked the same thing again."""
    theirs = f" {' '.join(fold(text) for text in producer_said)} "
    own = {fold(s) for text in ours for s in sentences(text)}
    kept = []
    for sentence in sentences(reply):
        folded = fold(sentence)
        if folded in own or (len(folded.split()) >= ECHO_MIN_WORDS and f" {folded} " in theirs):
            continue
        kept.append(sentence)
    return " ".join(kept)
