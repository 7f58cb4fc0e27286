"""Knowledge retrieval: deterministic keyword/crop/topic scoring, accent-insensitive."""

from __future__ import annotations

from agrochat.actors.session import load_form, rank_knowledge
from agrochat.actors.session._retrieval import detect_topic
from agrochat.knowledge import load_knowledge_seed
from agrochat.persistence import KnowledgeEntry

CROPS = load_form("perfil").get("cultivo").options  # type: ignore[union-attr]


def entries() -> list[KnowledgeEntry]:
    return [
        KnowledgeEntry(
            id=i + 1,
            title=e["title"],
            body=e["body"],
            crop=e["crop"],
            topic=e["topic"],
            keywords=e["keywords"],
            source=e["source"],
        )
        for i, e in enumerate(load_knowledge_seed())
    ]


def titles(question: str, crop: str | None) -> list[str]:
    return [
        s.entry.title for s in rank_knowledge(entries(), question, crop=crop, crop_synonyms=CROPS)
    ]


def test_irrigation_question_for_potato_brings_potato_irrigation_first() -> None:
    found = titles("¿Cuándo debo regar?", "papa")
    assert found[0] == "Riego de papa: etapas críticas"
    assert all("maíz" not in t and "arroz" not in t for t in found)


def test_accents_and_case_do_not_matter() -> None:
    assert titles("HELADAS en mi maiz", "papa") == titles("heladas en mi maíz", "papa")
    assert titles("heladas en mi maiz", "papa")[0] == "Heladas en maíz"


def test_a_crop_named_in_the_question_wins_over_the_profile_crop() -> None:
    found = titles("tengo roya en el cafe", "papa")
    assert found[0] == "Roya amarilla del café"


def test_without_a_known_crop_only_general_advice_is_given() -> None:
    found = rank_knowledge(entries(), "¿cómo protejo de la helada?", crop=None, crop_synonyms=CROPS)
    assert found and all(s.entry.crop is None for s in found)


def test_unrelated_questions_retrieve_nothing() -> None:
    assert titles("¿quién ganó el partido ayer?", "papa") == []
    # Naming a crop (answering "¿qué cultivo siembras?") is not a question about it.
    assert titles("papa", "papa") == []
    assert titles("siembro maíz", None) == []


def test_ranking_is_deterministic_and_limited() -> None:
    one = titles("plagas gusano hojas", "maíz")
    assert one == titles("plagas gusano hojas", "maíz")
    assert len(one) <= 3


def test_topic_detection() -> None:
    assert detect_topic("¿cuándo riego?") == "riego"
    assert detect_topic("tengo gusanos en las hojas") == "plagas"
    assert detect_topic("qué abono le echo") == "fertilizacion"
    assert detect_topic("va a caer helada") == "clima"
    assert detect_topic("hola") is None
