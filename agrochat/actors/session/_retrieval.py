"""Which vetted advice goes into a reply's context: deterministic keyword/crop/topic scoring.

No embeddings on purpose: the knowledge table is small, the scoring must be explainable to the
agronomists who write the entries, and the same question must always bring the same entries
(the model's answer, and the KV cache prefix, depend on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agrochat.persistence import KnowledgeEntry
from agrochat.text import contains_phrase, fold

# Words that say nothing about what the producer asks.
_STOPWORDS = """
    a al algo como con cual cuales cuando cuanto cuanta cuantos cuantas de debo del donde el
    ella en es esta este esto estos hay hola la las le lo los me mi mis muy no nos o para pero
    por porque puedo que se si sin su sus te tengo tiene tu un una uno unos y ya yo hacer hago
    ahora bien buenas buenos dias gracias tardes noches favor quiero saber necesito mucho poco
"""
STOPWORDS = frozenset(_STOPWORDS.split())

# A question's topic from the words it uses; an entry of that topic scores higher.
TOPIC_WORDS: Mapping[str, tuple[str, ...]] = {
    "riego": (
        "riego",
        "regar",
        "riegue",
        "regue",
        "riegas",
        "riega",
        "agua",
        "humedad",
        "seco",
        "seca",
        "goteo",
        "aspersion",
        "inundar",
        "lamina",
    ),
    "plagas": (
        "plaga",
        "plagas",
        "gusano",
        "gusanos",
        "insecto",
        "insectos",
        "hongo",
        "hongos",
        "mancha",
        "manchas",
        "enfermedad",
        "enferma",
        "enfermo",
        "roya",
        "rancha",
        "broca",
        "gorgojo",
        "cogollero",
        "monilia",
        "moniliasis",
        "piricularia",
        "tizon",
        "pulgon",
        "fumigar",
        "fungicida",
        "insecticida",
    ),
    "fertilizacion": (
        "abono",
        "abonar",
        "abonos",
        "fertilizante",
        "fertilizar",
        "fertilizacion",
        "urea",
        "nitrogeno",
        "fosforo",
        "potasio",
        "compost",
        "guano",
        "estiercol",
        "amarillas",
        "amarillo",
    ),
    "clima": (
        "helada",
        "heladas",
        "frio",
        "escarcha",
        "lluvia",
        "lluvias",
        "sequia",
        "granizo",
        "temperatura",
        "clima",
        "viento",
    ),
    "cosecha": (
        "cosecha",
        "cosechar",
        "poda",
        "podar",
        "almacen",
        "almacenar",
        "guardar",
        "madura",
        "maduro",
    ),
}


def _stem(word: str) -> str:
    """A crude Spanish stem: plural and the last letters cut, so 'heladas' meets 'helada'."""
    if len(word) > 5:
        return word[:5]
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def query_terms(text: str) -> list[str]:
    return [w for w in fold(text).split() if w not in STOPWORDS and len(w) > 2]


def detect_topic(text: str) -> str | None:
    """The topic most of the question's words point to; ties go to the order of TOPIC_WORDS."""
    terms = set(fold(text).split())
    best: tuple[int, str] | None = None
    for topic, topic_words in TOPIC_WORDS.items():
        hits = len(terms & set(topic_words))
        if hits and (best is None or hits > best[0]):
            best = (hits, topic)
    return best[1] if best else None


def detect_crops(text: str, crop_synonyms: Mapping[str, Sequence[str]]) -> list[str]:
    """Crops named in the text, as folded canonical names ('maiz')."""
    folded = fold(text)
    return [
        fold(canonical)
        for canonical, synonyms in crop_synonyms.items()
        if any(contains_phrase(folded, s) for s in (fold(canonical), *synonyms))
    ]


@dataclass(frozen=True)
class Scored:
    entry: KnowledgeEntry
    score: int


def rank_knowledge(
    entries: Iterable[KnowledgeEntry],
    question: str,
    *,
    crop: str | None,
    crop_synonyms: Mapping[str, Sequence[str]] | None = None,
    limit: int = 3,
) -> list[Scored]:
    """The ``limit`` entries most relevant to ``question`` for a producer growing ``crop``.

    Scoring (all integers, so ties are exact and broken by entry id):
    - entry for another crop than the one asked about / grown: excluded;
    - entry for that crop: +3; entry for every crop: +1;
    - entry's topic is the question's topic: +4;
    - each distinct question word found (by stem) in the entry's keywords or title: +2.
    An entry with no topic and no word in common scores nothing and is left out.
    """
    asked_crops = detect_crops(question, crop_synonyms or {})
    crops = set(asked_crops) if asked_crops else ({fold(crop)} if crop else set())
    topic = detect_topic(question)
    # A crop's name selects entries (above); as a keyword it would match every entry of it.
    crop_words = {w for synonyms in (crop_synonyms or {}).values() for w in synonyms}
    crop_words |= {fold(c) for c in (crop_synonyms or {})}
    stems = {_stem(t) for t in query_terms(question) if t not in crop_words}
    scored: list[Scored] = []
    for entry in entries:
        entry_crop = fold(entry.crop) if entry.crop else None
        if entry_crop is not None and crops and entry_crop not in crops:
            continue
        if entry_crop is not None and not crops:
            # We do not know the crop: crop-specific advice could be for the wrong plant.
            continue
        relevance = 0
        if topic is not None and entry.topic == topic:
            relevance += 4
        entry_stems = {_stem(w) for w in fold(f"{entry.keywords} {entry.title}").split()}
        relevance += 2 * len(stems & entry_stems)
        if relevance == 0:
            continue
        bonus = 3 if entry_crop is not None else 1
        scored.append(Scored(entry=entry, score=relevance + bonus))
    scored.sort(key=lambda s: (-s.score, s.entry.id))
    return scored[:limit]
