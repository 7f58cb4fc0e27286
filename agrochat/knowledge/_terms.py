"""What a text means to retrieval: WhatsApp spelling undone, stopwords out, Spanish stems.

Producers write on phones: "q hago x la elada", no accents, diminutives ("papita"). Retrieval
compares stems (Snowball's Spanish stemmer, the algorithm PostgreSQL's own ``spanish``
configuration uses), after three fixes measured on farmers' phrasing:

- Snowball expects accents: "fumigación" stems to "fumig" but "fumigacion" stays whole, so the
  common unaccented suffixes get their accent back before stemming.
- Verb and noun of one practice stem apart ("riego" -> "rieg", "regar" -> "reg"; "siembra" /
  "sembrar"; "helada" / "hiela"): ``STEM_ALIASES`` maps each to one stem.
- Diminutives ("gusanitos", "papita") are the plain word, when the base knows it (``Speller``).
"""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Iterable

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from agrochat.text import fold

# WhatsApp shorthand, as whole folded words -> what they stand for.
SHORTHAND = {
    "q": "que",
    "k": "que",
    "ke": "que",
    "qe": "que",
    "xq": "porque",
    "kmo": "como",
    "cmo": "como",
    "pq": "porque",
    "porq": "porque",
    "x": "por",
    "xa": "para",
    "pa": "para",
    "pal": "para el",
    "tb": "tambien",
    "tbn": "tambien",
    "tmb": "tambien",
    "d": "de",
    "dl": "del",
    "n": "en",
    "kiero": "quiero",
    "qiero": "quiero",
    "aser": "hacer",
    "ase": "hace",
    "asen": "hacen",
    "ay": "hay",
    "ai": "hay",
    "aora": "ahora",
    "ora": "ahora",
    "nose": "no se",
    "ps": "pues",
    "pz": "pues",
    "xfa": "por favor",
    "xfavor": "por favor",
    "porfa": "por favor",
    "grax": "gracias",
    "grasias": "gracias",
    "ola": "hola",
    "wenas": "buenas",
    "bns": "buenas",
    "ing": "ingeniero",
    "inge": "ingeniero",
    "mz": "maiz",
    "hrs": "horas",
    "kilo": "kilo",
}

# Crops farmers write as an emoji (the Unicode names: "ear of maize", "potato"…).
CROP_EMOJI = {
    "🌽": "maiz",
    "🥔": "papa",
    "🍅": "tomate",
    "☕": "cafe",
    "🍌": "platano",
    "🥑": "palta",
    "🧅": "cebolla",
    "🍚": "arroz",
    "🍫": "cacao",
    "🫘": "frijol",
}

# Function words and words every question shares: they say nothing about which advice fits.
_STOPWORDS = """
    a al algo algun alguna algunas alguno algunos ante antes aqui asi aun bajo bien cada como con
    contra cual cuales cualquier cuando cuanta cuantas cuanto cuantos de del desde donde dos el
    ella ellas ellos en entre era eres es esa esas ese eso esos esta estan estar estas este esto
    estos estoy fue fueron ha han has hasta hay he hoy la las le les lo los mas me mi mia mis mucha
    muchas mucho muchos muy nada ni no nos nosotros o otra otras otro otros para pero poco por
    porque pues que quien quienes se sea ser si sin sobre solo son soy su sus tal tambien te tengo
    tenemos tiene tienen tu tus un una uno unos unas usted ustedes va van vez y ya yo hola buenas
    buenos dias tardes noches gracias favor quiero quisiera saber necesito puedo puede podria
    hacer hago hace hacen debo debe deberia tener mas menos ahora ayuda ayudame ayudeme dime
    digame decir diga consulta pregunta ingeniero ingeniera doctor senor senora amigo don dona
    chacra chacrita campo terreno parcela cultivo cultivos planta plantas mata matas sembrio
    bueno buena mejor ok oye mire mira este eh ah pe pues nomas tambien ademas otra vez
    cosa cosas algo tipo forma manera momento tiempo disculpe disculpa disculpeme molestia
    molestar molesto perdon permiso toca tocar
"""
STOPWORDS = frozenset(_STOPWORDS.split())

_UNACCENTED_SUFFIXES = (
    ("acion", "ación"),
    ("ucion", "ución"),
    ("icion", "ición"),
    ("cion", "ción"),
    ("sion", "sión"),
)
# Diminutive endings and what the plain word may end in instead ("papitas" -> "papas",
# "cafecito" -> "cafe", "arbolito" -> "arbol").
_DIMINUTIVES = (
    ("ecitos", ("es", "")),
    ("ecitas", ("es", "")),
    ("citos", ("s", "")),
    ("citas", ("s", "")),
    ("itos", ("os", "es", "")),
    ("itas", ("as", "")),
    ("ecito", ("e", "")),
    ("ecita", ("e", "")),
    ("cito", ("", "e")),
    ("cita", ("", "a")),
    ("ito", ("o", "")),
    ("ita", ("a", "")),
)

# One stem for each family the stemmer splits (verb vs noun forms, stem-changing verbs).
STEM_ALIASES = {
    "reg": "rieg",
    "regu": "rieg",
    "sembr": "siembr",
    "hiel": "hel",
    "sequi": "sequ",
    "lluv": "lluvi",
    "lluev": "lluvi",
    "llov": "lluvi",
    "llovi": "lluvi",
    "fumig": "fumig",
    "abonamient": "abon",
    "fertiliz": "abon",
    "fertilizant": "abon",
    "podr": "pudr",
    "pudricion": "pudr",
    "pudrición": "pudr",
    "amarillent": "amarill",
    "sec": "sec",
    "almac": "almacen",
    "almacen": "almacen",
    "almacenamient": "almacen",
    "guard": "almacen",
}

_stemmer = snowballstemmer.stemmer("spanish")
# Bumped whenever ``stem`` or the lists above change: stored stems of an older version are
# recomputed (``KnowledgeBase``), so the database's index never disagrees with the query's.
TERMS_VERSION = 3


def normalize(text: str) -> list[str]:
    """Folded words with WhatsApp shorthand expanded, letters repeated for emphasis cut
    ("holaaa" -> "hola") and crops written as emoji named ("🌽" -> "maiz")."""
    for emoji, name in CROP_EMOJI.items():
        text = text.replace(emoji, f" {name} ")
    words: list[str] = []
    for word in fold(text).split():
        word = re.sub(r"(.)\1{2,}", r"\1", word)
        words.extend(SHORTHAND.get(word, word).split())
    return words


@functools.lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """The retrieval stem of one folded word."""
    accented = word
    for plain, with_accent in _UNACCENTED_SUFFIXES:
        if word.endswith(plain) and len(word) > len(plain) + 2:
            accented = word[: -len(plain)] + with_accent
            break
    stemmed = fold(_stemmer.stemWord(accented))
    if word.endswith("es") and len(word) > 5:
        # Snowball cuts "variedad" to "varied" but keeps "variedades" as "variedad": the
        # singular's stem, when it starts the plural's, is the one both forms share.
        singular = fold(_stemmer.stemWord(word[:-2]))
        if stemmed.startswith(singular) and len(singular) > 2:
            stemmed = singular
    return STEM_ALIASES.get(stemmed, stemmed)


def is_content(word: str) -> bool:
    """Whether a folded word can tell one piece of advice from another ("ph" can)."""
    return word not in STOPWORDS and (len(word) > 2 or word == "ph") and not word.isdigit()


def content_words(text: str) -> list[str]:
    return [w for w in normalize(text) if is_content(w)]


def terms(text: str) -> list[str]:
    """The distinct stems of ``text``'s content words, in order of first appearance."""
    return list(dict.fromkeys(stem(w) for w in content_words(text)))


def phonetic(word: str) -> str:
    """How a folded Spanish word sounds, so spellings of the same sound meet: "kafe"/"cafe",
    "sebolla"/"cebolla", "yuvia"/"lluvia", "elada"/"helada", "kinua"/"quinua", "ransha"/"rancha"
    ("sh" is how many write the "ch" of Quechua loanwords), "awa"/"agua", "werto"/"huerto"."""
    w = re.sub(r"^hu(?=[aeio])", "w", re.sub(r"gu(?=[ao])", "w", word))
    w = (
        w.replace("sh", "ch")
        .replace("ch", "§")
        .replace("qu", "k")
        .replace("ll", "y")
        .replace("h", "")
    )
    w = re.sub(r"c(?=[ei])", "s", w).replace("c", "k").replace("z", "s").replace("v", "b")
    w = re.sub(r"g(?=[ei])", "j", w).replace("§", "ch")
    w = re.sub(r"y$", "i", w)
    return re.sub(r"(.)\1+", r"\1", w)


def common_word(word: str) -> bool:
    """Whether a folded word is common Spanish (in either number: the list holds many words in
    one only, "playa" but not "playas")."""
    spanish = spanish_words()
    forms = [word]
    if word.endswith("s"):
        forms.append(word[:-1])
    if word.endswith("es"):
        forms.append(word[:-2])
    return any(form in spanish for form in forms)


def _plain_form(word: str, domain: frozenset[str]) -> str | None:
    """A diminutive's plain word, if the base uses it ("papita" -> "papa", "gusanitos" ->
    "gusanos"): a word that only looks like one stays as it is."""
    for ending, plains in _DIMINUTIVES:
        root = word[: -len(ending)]
        if word.endswith(ending) and len(root) >= 3:
            # "maicito" -> "maiz", "lucecita" -> "luz": the c of the ending was the word's z.
            roots = (root, root[:-1] + "z") if root.endswith("c") else (root,)
            for plain in (r + end for r in roots for end in plains):
                if plain in domain:
                    return plain
    return None


COMMON_FORMS = 25000


@functools.cache
def spanish_words() -> frozenset[str]:
    """Common Spanish words, folded: pyspellchecker's Spanish list (lemmas: "dato", "atender")
    and the 40000 most frequent forms of wordfreq's ("datos", "atienda", "pongo"); a word in it
    is no misspelling, even when it sounds like a farming word ("pongo" is not "hongo"). The
    frequent forms stop short of the web's common misspellings ("kiero", "chakra")."""
    import wordfreq
    from spellchecker import SpellChecker

    lemmas = SpellChecker(language="es").word_frequency.dictionary
    forms = wordfreq.top_n_list("es", COMMON_FORMS)
    return frozenset(fold(w) for w in (*lemmas, *forms))


class Speller:
    """Brings a misspelt word back to a word agrochat knows (``domain``: the knowledge base's
    words and the cues' lexicons): the same sound first ("kafe"), then one edit for a long word
    ("fumijar"), two for a very long one. A domain word, a common Spanish word and a short word
    are left as they are."""

    def __init__(self, domain: Iterable[str]) -> None:
        counts = collections.Counter(w for w in domain if w.isalpha())
        self.domain = frozenset(counts)
        by_sound: dict[str, str] = {}
        for word, _ in counts.most_common():
            by_sound.setdefault(phonetic(word), word)
        self._by_sound = by_sound
        self._long = [w for w in counts if len(w) >= 6]

    def correct(self, word: str) -> str:
        if word in self.domain or len(word) < 3 or not word.isalpha():
            return word
        plain = _plain_form(word, self.domain)
        if plain is not None:
            return plain
        if common_word(word):
            return word
        sounded = self._by_sound.get(phonetic(word))
        if sounded is not None:
            return sounded
        if len(word) < 6:
            return word
        limit = 1 if len(word) < 10 else 2
        match = process.extractOne(
            word, self._long, scorer=Levenshtein.distance, score_cutoff=limit
        )
        return match[0] if match is not None else word

    def words(self, text: str) -> list[str]:
        """``normalize(text)`` with every word spelt as agrochat knows it."""
        out: list[str] = []
        for word in normalize(text):
            fixed = self.correct(word)
            out.extend(SHORTHAND.get(fixed, fixed).split())
        return out
