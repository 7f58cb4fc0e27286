"""Which vetted entry answers a question: the crop filter, rarity weights, the relevance
threshold, the follow-up boost and the topic a question's action names — first on a small
index whose arithmetic is easy to follow, then on the seeded base with farmers' phrasing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agrochat.knowledge import (
    Hit,
    Index,
    IndexedEntry,
    KnowledgeBase,
    detect_topic,
    focus_word,
    index_entry,
    normalize,
    stem,
)

ROYA, BROCA, RANCHA, PUNO, PLAGAS = 1, 2, 3, 4, 5


def _entries() -> list[IndexedEntry]:
    return [
        index_entry(
            ROYA,
            crop="Café",
            topic="plagas",
            title="Roya amarilla del café",
            keywords="roya hojas amarillas polvo naranja",
            answer="Quita las hojas enfermas y abona bien el cafetal.",
            body="La roya es un hongo que tumba las hojas.",
        ),
        index_entry(
            BROCA,
            crop="café",
            topic="plagas",
            title="Broca del café",
            keywords="broca gorgojo granos perforados",
            answer="Recoge los granos caídos después de cada cosecha.",
            body="La broca es un gorgojo que perfora el grano.",
        ),
        index_entry(
            RANCHA,
            crop="papa",
            topic="plagas",
            title="Rancha de la papa",
            keywords="rancha tizon manchas negras hojas",
            answer="Siembra variedades tolerantes y vigila con neblina.",
            body="La rancha es un hongo que quema las hojas.",
        ),
        index_entry(
            PUNO,
            crop=None,
            topic="riego",
            title="Cuándo regar: prueba del puño",
            keywords="regar riego humedad",
            answer="Aprieta la tierra en el puño: si se desmorona, riega. Riega cada 7 días.",
            body="La humedad del suelo decide el riego, no el calendario.",
        ),
        index_entry(
            PLAGAS,
            crop=None,
            topic="plagas",
            title="Manejo integrado de plagas",
            keywords="plagas control monitoreo",
            answer="Revisa tu chacra cada semana antes de fumigar.",
            body="El control empieza por mirar: roya, rancha y gusanos se ven a tiempo.",
        ),
    ]


ALL = [ROYA, BROCA, RANCHA, PUNO, PLAGAS]


@pytest.fixture(scope="module")
def index() -> Index:
    entries = _entries()
    return Index(entries, texts=["roya cafe broca gorgojo rancha papa regar riego plagas"])


def _hits(index: Index, text: str, *, crops: Sequence[str] = (), earlier: str = "") -> list[Hit]:
    query = index.query(normalize(text), crops=crops, earlier=normalize(earlier))
    return index.score(query, ALL)


def _ids(hits: Sequence[Hit]) -> list[int]:
    return [h.entry_id for h in hits]


# -- crops -----------------------------------------------------------------------------------


def test_entries_of_another_crop_are_dropped(index: Index) -> None:
    ids = _ids(_hits(index, "como controlo la roya", crops=["papa"]))
    assert ROYA not in ids and BROCA not in ids
    assert RANCHA in ids


def test_general_entries_are_kept_whatever_the_crop(index: Index) -> None:
    assert PLAGAS in _ids(_hits(index, "como controlo las plagas", crops=["café"]))
    assert PLAGAS in _ids(_hits(index, "como controlo las plagas", crops=["papa"]))


def test_without_a_crop_only_general_entries_are_scored(index: Index) -> None:
    assert set(_ids(_hits(index, "como controlo la roya del cafe"))) == {PUNO, PLAGAS}


def test_crop_names_match_without_accents_or_capitals(index: Index) -> None:
    # The entry says "Café"; the producer's stored crop may be "cafe".
    assert _ids(_hits(index, "la roya del cafe", crops=["cafe"]))[0] == ROYA


# -- weights ---------------------------------------------------------------------------------


def test_a_rarer_stem_weighs_more(index: Index) -> None:
    # "hoja" is in three entries, "broca" in one.
    assert index.weight(stem("broca")) > index.weight(stem("hojas"))


def test_a_word_the_base_never_uses_weighs_nothing(index: Index) -> None:
    assert index.weight(stem("molestia")) == 0.0


def test_a_courtesy_around_the_question_changes_nothing(index: Index) -> None:
    plain = _hits(index, "como controlo la roya del cafe", crops=["café"])
    polite = _hits(index, "disculpe la molestia, como controlo la roya del cafe", crops=["café"])
    assert [(h.entry_id, h.score, h.coverage) for h in polite] == [
        (h.entry_id, h.score, h.coverage) for h in plain
    ]


def test_a_question_of_only_unknown_words_scores_nothing(index: Index) -> None:
    assert _hits(index, "disculpe la molestia", crops=["café"]) == []


def test_hits_come_best_first(index: Index) -> None:
    hits = _hits(index, "manchas negras en las hojas de la papa", crops=["papa"])
    assert hits[0].entry_id == RANCHA
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_an_entry_whose_answer_states_a_figure_says_so(index: Index) -> None:
    by_id = {h.entry_id: h for h in _hits(index, "cuando regar, cada cuanto riego")}
    assert by_id[PUNO].figures == frozenset({"time", "count"})  # "cada 7 días"
    assert by_id[PLAGAS].figures == frozenset({"time"})  # "cada semana": how often, in words


# -- relevance -------------------------------------------------------------------------------


def test_the_entry_named_in_the_question_is_relevant(index: Index) -> None:
    best = _hits(index, "mi cafe tiene roya", crops=["café"])[0]
    assert best.entry_id == ROYA
    assert best.relevant


def test_a_match_only_in_the_body_is_not_relevant(index: Index) -> None:
    # "gusanos" appears only in the body of the pest-management entry.
    hits = {h.entry_id: h for h in _hits(index, "gusanos")}
    assert hits[PLAGAS].coverage == 1.0
    assert hits[PLAGAS].title_matched == ()
    assert not hits[PLAGAS].relevant


def test_a_keyword_counts_like_a_title_word(index: Index) -> None:
    # "polvo" and "naranja" are only in the rust entry's keywords.
    best = _hits(index, "polvo naranja", crops=["café"])[0]
    assert best.entry_id == ROYA
    assert set(best.title_matched) == {stem("polvo"), stem("naranja")}
    assert best.relevant


@pytest.mark.parametrize(
    ("hit", "relevant"),
    [
        (Hit(1, score=0.6, coverage=0.6, matched=("roy",), title_matched=("roy",)), True),
        (Hit(1, score=0.6, coverage=0.6, matched=("roy",), title_matched=()), False),
        (Hit(1, score=0.6, coverage=0.29, matched=("roy",), title_matched=("roy",)), False),
        (Hit(1, score=0.29, coverage=0.6, matched=("roy",), title_matched=("roy",)), False),
    ],
)
def test_a_hit_is_relevant_only_with_a_title_match_over_both_thresholds(
    hit: Hit, relevant: bool
) -> None:
    assert hit.relevant is relevant


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("cual es el mejor patron para injertar palta", "patron"),
        ("cual es la mejor fecha para sembrar", "fecha"),
        ("cuales son las mejores variedades", "variedades"),
        ("que variedad de papa es mejor para la helada", "variedad"),
        ("que abono me recomiendas", "abono"),
        ("que tal, cual es el mejor abono para mi papa", "abono"),
        ("como controlo la rancha", None),
        ("que hago con la rancha", None),
        ("cual es el problema de mi papa", None),
        ("cual enfermedad tiene mi cafe", None),
        ("riego mejor de noche", None),
    ],
)
def test_a_question_for_the_best_choice_names_what_it_asks_for(
    question: str, focus: str | None
) -> None:
    assert focus_word(normalize(question)) == focus


def test_the_best_choice_is_answered_only_by_an_entry_that_names_it(index: Index) -> None:
    named = {
        h.entry_id: h
        for h in _hits(index, "cual es la mejor variedad para la rancha", crops=["papa"])
    }
    unnamed = {
        h.entry_id: h
        for h in _hits(index, "cual es el mejor patron para la rancha", crops=["papa"])
    }
    assert named[RANCHA].relevant
    assert not unnamed[RANCHA].relevant


def test_the_best_choice_named_only_in_the_body_is_not_answered(index: Index) -> None:
    # "calendario" is only in the body of the fist-test entry: the farmer would not read it.
    hits = {h.entry_id: h for h in _hits(index, "cual es el mejor calendario de riego")}
    assert stem("calendario") in hits[PUNO].matched
    assert not hits[PUNO].relevant


# -- follow-ups ------------------------------------------------------------------------------


def test_a_follow_up_carries_the_previous_question_and_boosts_its_new_words(
    index: Index,
) -> None:
    query = index.query(
        normalize("y la broca?"), crops=["café"], earlier=normalize("como controlo la roya")
    )
    assert set(query.stems) == {stem("controlo"), stem("roya"), stem("broca")}
    assert query.boost == {stem("broca")}
    assert index.weight(stem("broca"), query) == 2 * index.weight(stem("broca"))


def test_in_a_follow_up_the_new_word_outranks_the_carried_ones(index: Index) -> None:
    hits = _hits(index, "y la broca?", crops=["café"], earlier="como controlo la roya del cafe")
    assert hits[0].entry_id == BROCA


def test_a_question_on_its_own_boosts_nothing(index: Index) -> None:
    assert index.query(normalize("como controlo la broca")).boost == frozenset()


def test_a_follow_up_without_a_topic_word_keeps_the_previous_topic(index: Index) -> None:
    query = index.query(normalize("y en la papa?"), earlier=normalize("cuando riego"))
    assert query.topic == "riego"


# -- topics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("cuando siembro el cafe, en lluvias o en verano", "siembra"),
        ("como guardo la papa para que no le entre la polilla", "cosecha"),
        ("cuando riego si hay helada", "riego"),
        ("con que abono la papa despues de la helada", "fertilizacion"),
        ("cuando fumigo el gusano del maiz", "plagas"),
    ],
)
def test_the_action_names_the_topic(question: str, topic: str) -> None:
    assert detect_topic(stem(w) for w in normalize(question)) == topic


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("manchas y hongos en las hojas", "plagas"),
        ("mucha helada y granizo este mes", "clima"),
        ("el suelo es acido, le falta cal", "suelo"),
    ],
)
def test_without_an_action_the_most_named_topic_wins(question: str, topic: str) -> None:
    assert detect_topic(stem(w) for w in normalize(question)) == topic


def test_a_tie_goes_to_the_first_topic_listed() -> None:
    # One word each for riego and plagas: riego comes first.
    assert detect_topic([stem("agua"), stem("gusano")]) == "riego"


def test_a_question_without_topic_words_has_no_topic() -> None:
    assert detect_topic(stem(w) for w in normalize("que me recomienda usted")) is None


# -- the seeded base -------------------------------------------------------------------------


def _best(base: KnowledgeBase, text: str, crops: Sequence[str]) -> str | None:
    relevant = [h for h in base.search(base.words(text), crops=crops) if h.relevant]
    if not relevant:
        return None
    entry = base.entry(relevant[0].entry_id)
    assert entry is not None
    return entry.key


@pytest.mark.parametrize(
    ("text", "crops", "key"),
    [
        ("mi papa tiene rancha", ["papa"], "papa-plagas-rancha"),
        ("q hago x la elada en mi papa", ["papa"], "papa-clima-heladas-variedades"),
        ("cuando riego el kafe", ["café"], "cafe-riego-etapas"),
        ("las ojas de mi kafe tienen polvo naranja", ["café"], "cafe-plagas-roya-amarilla"),
        ("la broka esta picando los granos", ["café"], "cafe-plagas-broca"),
        ("como guardo el maiz pa q no le entre gorgojo", ["maíz"], "maiz-cosecha-almacenamiento"),
        ("hay gusano en el cogollo del maiz", ["maíz"], "maiz-plagas-gusano-cogollero"),
        ("mi platano tiene sigatoca", ["plátano"], "platano-plagas-sigatoka-negra"),
        ("cuando cosecho la quinua", ["quinua"], "quinua-cosecha-momento"),
        ("como siembro cebolla", ["cebolla"], "cebolla-siembra-distancias"),
        ("como se si mi suelo es acido", [], "general-suelo-ph-encalado"),
        ("cayo granizo y rompio las hojas", [], "general-clima-granizo"),
        ("como riego con goteo, se tapan las cintas", [], "general-riego-goteo-mantenimiento"),
        ("que hago con los frascos vacios del veneno", [], "general-plagas-triple-lavado"),
    ],
)
def test_a_farmers_question_finds_its_entry(
    base: KnowledgeBase, text: str, crops: list[str], key: str
) -> None:
    assert _best(base, text, crops) == key


@pytest.mark.parametrize("text", ["como crio truchas", "cuanto cuesta un tractor"])
def test_a_question_the_base_does_not_cover_finds_nothing_relevant(
    base: KnowledgeBase, text: str
) -> None:
    assert _best(base, text, []) is None


def test_a_follow_up_on_the_seeded_base_answers_its_new_word(base: KnowledgeBase) -> None:
    hits = base.search(
        base.words("y la broca?"),
        crops=["café"],
        earlier=base.words("como controlo la roya del cafe"),
    )
    best = base.entry(hits[0].entry_id)
    assert best is not None
    assert best.key == "cafe-plagas-broca"


def test_the_seeded_base_never_answers_with_another_crops_entry(base: KnowledgeBase) -> None:
    hits = base.search(base.words("como controlo la roya"), crops=["trigo"])
    crops = {entry.crop for h in hits if (entry := base.entry(h.entry_id)) is not None}
    assert hits
    assert crops <= {"trigo", None}


def test_courtesy_words_do_not_change_the_seeded_answer(base: KnowledgeBase) -> None:
    plain = base.search(base.words("como controlo la roya del cafe"), crops=["café"])
    polite = base.search(
        base.words("disculpe la molestia ingeniero, como controlo la roya del cafe"),
        crops=["café"],
    )
    assert (polite[0].entry_id, polite[0].score) == (plain[0].entry_id, plain[0].score)


def test_the_speller_brings_farmers_spelling_to_the_bases_words(base: KnowledgeBase) -> None:
    assert base.words("q hago x la elada, mi kafe y mi sebolla") == [
        "que",
        "hago",
        "por",
        "la",
        "helada",
        "mi",
        "cafe",
        "y",
        "mi",
        "cebolla",
    ]
