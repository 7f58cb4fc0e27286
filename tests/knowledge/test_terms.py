"""What a farmer's words mean to retrieval: WhatsApp spelling undone, Spanish stems that keep a
practice's verb and noun together, and a speller that brings misspelt farming words home while
leaving ordinary Spanish alone."""

from __future__ import annotations

import pytest

from agrochat.knowledge import Speller, content_words, normalize, stem, terms
from agrochat.knowledge._terms import phonetic

# -- normalize ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("q hago x la elada", ["que", "hago", "por", "la", "elada"]),
        ("xq se muere mi papa", ["porque", "se", "muere", "mi", "papa"]),
        ("kiero saber pal maiz", ["quiero", "saber", "para", "el", "maiz"]),
        ("nose q pasa", ["no", "se", "que", "pasa"]),
        ("xfa ayudeme inge", ["por", "favor", "ayudeme", "ingeniero"]),
        ("tb tengo cafe", ["tambien", "tengo", "cafe"]),
    ],
)
def test_whatsapp_shorthand_is_spelt_out(text: str, words: list[str]) -> None:
    assert normalize(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Holaaaa buenasss", ["hola", "buenas"]),
        ("muchaaas graciaaas", ["muchas", "gracias"]),
        ("siiii", ["si"]),
    ],
)
def test_letters_repeated_for_emphasis_are_cut(text: str, words: list[str]) -> None:
    assert normalize(text) == words


def test_double_letters_of_real_words_are_kept() -> None:
    assert normalize("llueve en el arroz") == ["llueve", "en", "el", "arroz"]


def test_accents_capitals_and_punctuation_are_folded() -> None:
    assert normalize("¿Cuándo FUMIGO el maíz?") == ["cuando", "fumigo", "el", "maiz"]


# -- stem ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("fumigación", "fumigacion"),
        ("aplicación", "aplicacion"),
        ("pudrición", "pudricion"),
        ("sequía", "sequia"),
    ],
)
def test_a_word_without_its_accent_shares_the_accented_stem(accented: str, plain: str) -> None:
    assert stem(plain) == stem(accented)


@pytest.mark.parametrize(
    "family",
    [
        ["riego", "regar", "riega", "regue", "regando"],
        ["siembra", "sembrar", "siembro", "sembre", "sembrando"],
        ["helada", "heladas", "hiela", "helo"],
        ["abono", "abonar", "abonamiento", "fertilizante", "fertilizar"],
        ["fumigar", "fumigo", "fumigacion"],
        ["podrido", "podrida", "pudricion", "pudre"],
        ["amarillo", "amarillas", "amarillento"],
        ["almacenar", "almacenamiento", "guardar"],
    ],
)
def test_verb_and_noun_of_one_practice_share_a_stem(family: list[str]) -> None:
    assert {stem(word) for word in family} == {stem(family[0])}


@pytest.mark.parametrize(
    ("singular", "plural"), [("variedad", "variedades"), ("enfermedad", "enfermedades")]
)
def test_singular_and_plural_share_a_stem(singular: str, plural: str) -> None:
    assert stem(singular) == stem(plural)


@pytest.mark.parametrize(
    ("diminutive", "plain"),
    [
        ("gusanitos", "gusanos"),
        ("plantita", "planta"),
        ("papitas", "papas"),
        ("hojitas", "hojas"),
        ("arbolito", "arbol"),
        ("cebollita", "cebolla"),
        ("cafecito", "cafe"),
    ],
)
def test_a_diminutive_is_the_plain_word_the_base_uses(diminutive: str, plain: str) -> None:
    assert Speller([plain]).correct(diminutive) == plain


def test_a_word_that_only_looks_like_a_diminutive_is_left_alone() -> None:
    assert Speller(["papa", "planta"]).correct("visita") == "visita"


@pytest.mark.parametrize(
    ("one", "other"), [("papa", "palta"), ("riego", "rancha"), ("cal", "cafe")]
)
def test_different_words_keep_different_stems(one: str, other: str) -> None:
    assert stem(one) != stem(other)


# -- terms -----------------------------------------------------------------------------------


def test_terms_are_the_distinct_stems_of_the_content_words_in_order() -> None:
    text = "hola ingeniero, como riego mi papa? quiero saber como regar la papa"
    assert terms(text) == [stem("riego"), stem("papa")]


def test_ph_counts_as_a_content_word_but_numbers_and_short_words_do_not() -> None:
    assert content_words("el ph de mi suelo es 5 ya ok") == ["ph", "suelo"]


def test_shorthand_is_expanded_before_stopwords_are_dropped() -> None:
    # "q" and "x" are "que" and "por": stopwords once spelt out.
    assert terms("q hago x la helada") == [stem("helada")]


# -- phonetic --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("misspelt", "word"),
    [
        ("kafe", "cafe"),
        ("sebolla", "cebolla"),
        ("yuvia", "lluvia"),
        ("elada", "helada"),
        ("kinua", "quinua"),
        ("kosecha", "cosecha"),
        ("arros", "arroz"),
        ("baca", "vaca"),
        ("jente", "gente"),
        ("awa", "agua"),
        ("wano", "guano"),
        ("werto", "huerto"),
    ],
)
def test_spellings_of_one_sound_meet(misspelt: str, word: str) -> None:
    assert phonetic(misspelt) == phonetic(word)


@pytest.mark.parametrize(
    ("one", "other"),
    [("pongo", "hongo"), ("playa", "plaga"), ("papa", "palta"), ("guerra", "werra")],
)
def test_words_that_sound_different_stay_apart(one: str, other: str) -> None:
    assert phonetic(one) != phonetic(other)


# -- Speller ---------------------------------------------------------------------------------

DOMAIN = [
    "cafe",
    "cebolla",
    "lluvia",
    "helada",
    "quinua",
    "fumigar",
    "gorgojo",
    "hongo",
    "hongos",
    "plaga",
    "plagas",
    "fertilizante",
    "cosecha",
    "arroz",
    "granizo",
]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(DOMAIN)


@pytest.mark.parametrize(
    ("misspelt", "word"),
    [
        ("kafe", "cafe"),
        ("sebolla", "cebolla"),
        ("yuvia", "lluvia"),
        ("elada", "helada"),
        ("kinua", "quinua"),
        ("kosecha", "cosecha"),
        ("arros", "arroz"),
    ],
)
def test_a_word_spelt_by_its_sound_becomes_the_domain_word(
    speller: Speller, misspelt: str, word: str
) -> None:
    assert speller.correct(misspelt) == word


@pytest.mark.parametrize(("misspelt", "word"), [("fumijar", "fumigar"), ("gorgogo", "gorgojo")])
def test_a_long_word_one_letter_off_becomes_the_domain_word(
    speller: Speller, misspelt: str, word: str
) -> None:
    assert speller.correct(misspelt) == word


def test_a_very_long_word_may_be_two_letters_off(speller: Speller) -> None:
    assert speller.correct("fertlizantes") == "fertilizante"


def test_a_word_of_ordinary_length_two_letters_off_is_left_alone(speller: Speller) -> None:
    assert speller.correct("fumxjar") == "fumxjar"


@pytest.mark.parametrize("word", ["pongo", "playa", "tengo", "quiero"])
def test_common_spanish_words_are_left_alone(speller: Speller, word: str) -> None:
    assert speller.correct(word) == word


@pytest.mark.parametrize(("word", "near"), [("helado", "helada"), ("granito", "granizo")])
def test_a_common_word_one_letter_off_a_domain_word_is_still_itself(
    speller: Speller, word: str, near: str
) -> None:
    assert near in DOMAIN
    assert speller.correct(word) == word


@pytest.mark.parametrize("word", ["ph", "m2", "x1"])
def test_short_words_and_words_with_digits_are_left_alone(speller: Speller, word: str) -> None:
    assert speller.correct(word) == word


def test_a_domain_word_is_never_changed(speller: Speller) -> None:
    assert [speller.correct(w) for w in DOMAIN] == DOMAIN


def test_speller_words_undoes_shorthand_and_spelling_together(speller: Speller) -> None:
    assert speller.words("q hago x la elada en mi kafe") == [
        "que",
        "hago",
        "por",
        "la",
        "helada",
        "en",
        "mi",
        "cafe",
    ]
