"""Which vetted entry answers a question: candidates by full-text search, then a score that is
the same on every database, with a relevance threshold.

The database finds candidates (SQLite FTS5 ranked with bm25, PostgreSQL full-text search; see
``KnowledgeStore.search``), both over the same Spanish stems (``_terms``), filtered by crop. Then
each candidate is scored here, deterministically and explainably for the agronomists who write
the entries: how much of the question's weight (rarer words weigh more: IDF over the whole base)
the entry covers, words in its title and keywords counting double, plus the entry's topic when
the question's words name it. An entry whose score is under the threshold answers nothing: the
producer is told we have no verified information instead of getting the nearest advice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agrochat.knowledge._figures import stated
from agrochat.knowledge._terms import Speller, is_content, normalize, stem, terms
from agrochat.text import fold

# Words that point a question at a topic (folded; stems are compared).
TOPIC_WORDS: Mapping[str, tuple[str, ...]] = {
    "riego": [
        "riego",
        "regar",
        "agua",
        "humedad",
        "seco",
        "seca",
        "goteo",
        "aspersion",
        "gravedad",
        "surcos",
        "inundar",
        "lamina",
        "aniego",
        "regadio",
        "mojar",
    ],
    "plagas": [
        "plaga",
        "gusano",
        "insecto",
        "hongo",
        "mancha",
        "enfermedad",
        "enferma",
        "enfermo",
        "roya",
        "rancha",
        "broca",
        "gorgojo",
        "cogollero",
        "monilia",
        "piricularia",
        "tizon",
        "pulgon",
        "fumigar",
        "fungicida",
        "insecticida",
        "polilla",
        "trips",
        "mosca",
        "larva",
        "bicho",
        "podrido",
        "pudricion",
        "virus",
        "bacteria",
        "nematodo",
        "sigatoka",
        "picudo",
        "acaro",
        "marchitez",
        "escoba",
        "mildiu",
    ],
    "fertilizacion": [
        "abono",
        "abonar",
        "fertilizante",
        "fertilizar",
        "urea",
        "nitrogeno",
        "fosforo",
        "potasio",
        "compost",
        "guano",
        "estiercol",
        "nutriente",
    ],
    "clima": [
        "helada",
        "frio",
        "escarcha",
        "lluvia",
        "sequia",
        "granizo",
        "temperatura",
        "clima",
        "viento",
        "calor",
        "friaje",
        "inundacion",
    ],
    "siembra": [
        "siembra",
        "sembrar",
        "semilla",
        "almacigo",
        "trasplante",
        "distancia",
        "variedad",
        "plantones",
        "plantar",
        "densidad",
        "vivero",
        "injerto",
    ],
    "cosecha": [
        "cosecha",
        "cosechar",
        "madura",
        "maduro",
        "madurez",
        "almacenar",
        "almacen",
        "guardar",
        "secar",
        "secado",
        "poscosecha",
        "trillar",
        "desgranar",
        "fermentar",
    ],
    "suelo": [
        "suelo",
        "tierra",
        "ph",
        "acido",
        "cal",
        "encalado",
        "analisis",
        "muestra",
        "erosion",
        "materia",
        "organica",
        "drenaje",
        "salinidad",
        "salitre",
        "arcilloso",
        "arenoso",
    ],
}
_TOPIC_STEMS = {topic: {stem(w) for w in words} for topic, words in TOPIC_WORDS.items()}

TITLE_WEIGHT = 2.0
TOPIC_BONUS = 0.15
CROP_BONUS = 0.1
# Calibrated on bench/data/dev.jsonl (never on the set bench/quality.py reports).
MIN_COVERAGE = 0.3
MIN_SCORE = 0.3


@dataclass(frozen=True)
class IndexedEntry:
    """An entry as retrieval sees it: ids, crop and topic, and the stems of each part."""

    id: int
    crop: str | None  # folded
    topic: str | None
    title_stems: frozenset[str]
    text_stems: frozenset[str]
    # The kinds of figure the farmer-facing answer states (``_figures``): only an entry that
    # states an amount answers "how many kilos", only one that states a time "how many days".
    figures: frozenset[str] = frozenset()
    # What the farmer reads (the title, keywords and short answer), not the panel's body: a
    # question's focus named only in the body is not what the reply will say.
    said_stems: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Query:
    """A question as retrieval sees it. ``crops``: folded crop names that select entries (the
    ones the message names, else the producer's); none means crop-specific entries are out."""

    stems: tuple[str, ...]
    crops: frozenset[str]
    topic: str | None
    # In a follow-up ("¿y la broca?"), the new words weigh double and the ones carried from the
    # previous question half: they only say what the conversation is about.
    boost: frozenset[str] = frozenset()
    # The thing a "which is the best ..." question asks for ("el mejor patrón", "qué variedad
    # conviene"): an entry that never speaks of it does not answer, however much else it covers.
    focus: str | None = None


@dataclass(frozen=True)
class Hit:
    entry_id: int
    score: float
    coverage: float
    matched: tuple[str, ...]
    # The question's words found in the entry's title or keywords (the farmer's own words for
    # it): a match only in the body is weak evidence.
    title_matched: tuple[str, ...] = ()
    figures: frozenset[str] = frozenset()
    misses_focus: bool = False

    @property
    def relevant(self) -> bool:
        return (
            bool(self.title_matched)
            and not self.misses_focus
            and self.coverage >= MIN_COVERAGE
            and self.score >= MIN_SCORE
        )


def index_entry(
    entry_id: int,
    *,
    crop: str | None,
    topic: str | None,
    title: str,
    keywords: str,
    answer: str,
    body: str,
) -> IndexedEntry:
    return IndexedEntry(
        id=entry_id,
        crop=fold(crop) if crop else None,
        topic=topic,
        title_stems=frozenset(terms(f"{title} {keywords}")),
        text_stems=frozenset(terms(f"{answer} {body}")),
        figures=stated(answer),
        said_stems=frozenset(terms(f"{title} {keywords} {answer}")),
    )


# The farmer's action names the topic more surely than the nouns around it: "¿cuándo siembro
# el café, en lluvias o en verano?" is about sowing, not the weather.
_ACTIONS = {
    stem(w): topic
    for topic, words in {
        "riego": "regar riego",
        "siembra": "sembrar siembra plantar trasplantar",
        "cosecha": "cosechar cosecha secar guardar almacenar",
        "fertilizacion": "abonar abono fertilizar",
        "plagas": "fumigar controlar",
    }.items()
    for w in words.split()
}


def detect_topic(stems: Iterable[str]) -> str | None:
    """The topic the question's stems point to: its action, else the topic most of its words
    name; ties go to TOPIC_WORDS's order."""
    found = list(stems)
    for s in found:
        if s in _ACTIONS:
            return _ACTIONS[s]
    best: tuple[int, str] | None = None
    for topic, topic_stems in _TOPIC_STEMS.items():
        hits = len(set(found) & topic_stems)
        if hits and (best is None or hits > best[0]):
            best = (hits, topic)
    return best[1] if best else None


_INTENTIONS = frozenset(
    [
        "quiero",
        "quisiera",
        "queremos",
        "pienso",
        "pensamos",
        "planeo",
        "voy",
        "vamos",
        "deseo",
        "queria",
    ]
)


def _without_intentions(words: Sequence[str]) -> list[str]:
    """``words`` without the verb right after an intention ("quiero sembrar", "voy a regar")."""
    out: list[str] = []
    skip = False
    for word in words:
        if skip and word in ("a", "poner", "hacer"):
            continue
        if skip:
            skip = False
            continue
        skip = word in _INTENTIONS
        out.append(word)
    return out


_BEST = frozenset(["mejor", "mejores", "conviene", "recomienda", "recomiendas", "recomiendan"])
_WHICH = frozenset(["cual", "cuales"])
_LINKS = frozenset(["es", "son", "seria", "sera", "el", "la", "los", "las", "de", "tipo", "clase"])


def focus_word(words: Sequence[str]) -> str | None:
    """What a question for the best choice asks for: "¿cuál es el mejor patrón?", "la mejor
    fecha", "¿qué variedad conviene?" -> patrón, fecha, variedad. None for other questions."""
    best = any(w in _BEST for w in words)
    for i, word in enumerate(words):
        # Only with a word of choosing: "¿cuál es el problema de mi papa?" asks no best choice.
        opens = (best and (word in _WHICH or word == "que")) or (word in _BEST and i > 0)
        if word in _BEST and i > 0 and words[i - 1] not in _LINKS:
            opens = False
        if not opens:
            continue
        for after in words[i + 1 : i + 5]:
            if after in _LINKS or after in _BEST:
                continue
            if is_content(after):
                return after
            # "¿qué tal? ¿cuál es el mejor abono?": this opener named nothing, try the next.
            break
    return None


class Index:
    """The stems of every entry, how rare each stem is, and the words the base is written in
    (the speller's vocabulary, with ``extra_words``: the cues' lexicons, the form's options)."""

    def __init__(
        self,
        entries: Sequence[IndexedEntry],
        *,
        texts: Iterable[str] = (),
        extra_words: Iterable[str] = (),
    ) -> None:
        self.entries = {e.id: e for e in entries}
        df: dict[str, int] = {}
        for e in entries:
            for s in e.title_stems | e.text_stems:
                df[s] = df.get(s, 0) + 1
        n = max(1, len(entries))
        self.idf = {s: math.log(1 + n / count) for s, count in df.items()}
        vocabulary = [w for text in texts for w in normalize(text)]
        self.speller = Speller([*vocabulary, *extra_words])

    def words(self, text: str) -> list[str]:
        """The message's words, normalised and spelt as the base and the cues spell them."""
        return self.speller.words(text)

    def query(
        self,
        words: Sequence[str],
        *,
        crops: Iterable[str] = (),
        earlier: Sequence[str] = (),
    ) -> Query:
        """``earlier``: the previous question's words, for a follow-up."""
        crops_folded = {fold(c) for c in crops}
        stems = tuple(dict.fromkeys(self._stems(words)))
        carried = tuple(self._stems(earlier))
        # "quiero sembrar quinua, ¿qué suelo le gusta?": the plan is context, the question is
        # about the soil; an action the producer only intends does not name the topic.
        asked = self._stems(_without_intentions(words))
        focus = focus_word(words)
        return Query(
            stems=tuple(dict.fromkeys((*carried, *stems))),
            crops=frozenset(crops_folded),
            topic=detect_topic(asked) or detect_topic(stems) or detect_topic(carried),
            boost=frozenset(stems) if carried else frozenset(),
            focus=stem(focus) if focus and fold(focus) not in crops_folded else None,
        )

    def _stems(self, words: Iterable[str]) -> list[str]:
        return [stem(w) for w in words if is_content(w)]

    def weight(self, s: str, query: Query | None = None) -> float:
        factor = 1.0
        if query is not None and query.boost:
            factor = 2.0 if s in query.boost else 0.5
        return self.idf.get(s, 0.0) * factor

    def score(self, query: Query, candidates: Iterable[int]) -> list[Hit]:
        """Scored candidates (those of another crop dropped), best first, ties by id.

        Words the base never uses weigh nothing: they cannot tell entries apart, and a courtesy
        ("disculpe la molestia") must not make a question look unanswerable.
        """
        full = sum(self.weight(s, query) for s in query.stems)
        topic = query.topic
        hits: list[Hit] = []
        for entry_id in candidates:
            e = self.entries.get(entry_id)
            if e is None or not full:
                continue
            if e.crop is not None and e.crop not in query.crops:
                continue
            # "aparte de papa, ¿qué suelo le gusta a la quinua?": for a quinua entry the other
            # crop's name is context, not a word it failed to cover.
            others = {stem(c) for c in query.crops if c != e.crop} if e.crop else set()
            total = full - sum(self.weight(s, query) for s in query.stems if s in others)
            if not total:
                continue
            matched = [s for s in query.stems if s in e.title_stems or s in e.text_stems]
            covered = sum(self.weight(s, query) for s in matched)
            weighted = sum(
                self.weight(s, query) * (TITLE_WEIGHT if s in e.title_stems else 1.0)
                for s in matched
            )
            coverage = covered / total
            score = weighted / (total * TITLE_WEIGHT)
            if topic is not None and e.topic == topic and matched:
                score += TOPIC_BONUS
            if e.crop is not None and matched:
                score += CROP_BONUS
            hits.append(
                Hit(
                    entry_id=e.id,
                    score=round(score, 4),
                    coverage=round(coverage, 4),
                    matched=tuple(matched),
                    title_matched=tuple(s for s in matched if s in e.title_stems),
                    figures=e.figures,
                    misses_focus=query.focus is not None and query.focus not in e.said_stems,
                )
            )
        hits.sort(key=lambda h: (-h.score, h.entry_id))
        return hits
