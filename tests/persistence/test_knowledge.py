"""The vetted knowledge: the seed is sound and sourced, seeds never overwrite admins, and the
full-text search finds the same entries on both databases."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from agrochat.actors.session import load_form
from agrochat.knowledge import TERMS_VERSION, terms
from agrochat.model_output import TEMAS
from agrochat.persistence import Database, KnowledgeStore, apply_knowledge_seed, load_seed
from tests.schema import MIGRATIONS, knowledge, schema_version

SEED = load_seed("knowledge-")
V1_SOURCE = "agrochat: base inicial (revisar con un agrónomo local)"
JAN, FEB = dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1)
CROPS = tuple(load_form("perfil").get("cultivo").options)
TOPICS = ("riego", "plagas", "fertilizacion", "clima", "siembra", "cosecha", "suelo")
# A figure with a pesticide unit per tank or area: a dose, which no entry may give.
DOSE = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:ml|cc|l|litros?|g|gramos?|kg|kilos?)\s*(?:/|por)\s*"
    r"(?:mochila|cilindro|bomba|tanque|litro|l\b)",
    re.IGNORECASE,
)


def test_the_seed_covers_every_crop_and_topic_with_150_or_more_entries() -> None:
    assert len(SEED) >= 150
    covered = {(e["crop"], e["topic"]) for e in SEED}
    assert [(c, t) for c in CROPS for t in TOPICS if (c, t) not in covered] == []


def test_every_seed_entry_is_well_formed_and_names_its_source() -> None:
    keys = [e["key"] for e in SEED]
    assert len(keys) == len(set(keys))
    for e in SEED:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", e["key"]), e["key"]
        assert e["crop"] in (None, *CROPS), e["key"]
        assert e["topic"] in TEMAS, e["key"]
        assert 0 < len(e["answer"]) <= 420, e["key"]
        assert len(re.findall(r"[.!?](?:\s|$)", e["answer"])) <= 3, e["key"]
        source = e["source"]
        assert source["publisher"] and source["title"], e["key"]
        assert source["url"].startswith(("http://", "https://")), e["key"]
        assert source["year"] is None or 1950 <= source["year"] <= 2026, e["key"]


def test_no_seed_entry_gives_a_pesticide_dose() -> None:
    assert [e["key"] for e in SEED if DOSE.search(f"{e['answer']} {e['body']}")] == []


def test_a_fresh_database_holds_the_seed_pending_review(database: Database) -> None:
    store = KnowledgeStore(database)
    assert store.count() == len(SEED)
    entry = store.by_key("papa-plagas-rancha")
    assert entry is not None
    assert (entry.origin, entry.review_status) == ("seed", "pending")
    assert entry.source and entry.source_url


def _apply(database: Database, entries: list[dict]) -> tuple[int, int]:
    with database.tx() as conn:
        return apply_knowledge_seed(conn, knowledge, entries)


def test_a_later_seed_updates_untouched_entries_and_adds_new_ones(database: Database) -> None:
    store = KnowledgeStore(database)
    changed = {**SEED[0], "answer": "Texto nuevo del seed."}
    extra = {**SEED[1], "key": "nueva-entrada-de-prueba"}
    assert _apply(database, [changed, extra]) == (1, 1)
    assert store.by_key(SEED[0]["key"]).answer == "Texto nuevo del seed."
    assert store.by_key("nueva-entrada-de-prueba") is not None


def test_a_later_seed_never_overwrites_an_admins_edit(database: Database) -> None:
    store = KnowledgeStore(database)
    entry = store.by_key(SEED[0]["key"])
    store.update(
        entry.id,
        title=entry.title,
        answer="Ajustado por el agrónomo de la zona.",
        body=entry.body,
        crop=entry.crop,
        topic=entry.topic,
        keywords=entry.keywords,
        source=entry.source,
    )
    assert _apply(database, [{**SEED[0], "answer": "Texto nuevo del seed."}]) == (0, 0)
    assert store.get(entry.id).answer == "Ajustado por el agrónomo de la zona."


def test_a_later_seed_never_brings_back_a_retired_entry(database: Database) -> None:
    store = KnowledgeStore(database)
    entry = store.by_key(SEED[0]["key"])
    assert store.retire(entry.id)
    assert _apply(database, [SEED[0]]) == (0, 0)
    assert store.get(entry.id) is None and store.by_key(SEED[0]["key"]) is None


def test_an_edit_waits_for_review_again(database: Database) -> None:
    store = KnowledgeStore(database)
    entry = store.by_key(SEED[0]["key"])
    assert store.review(entry.id, reviewer="admin:maria")
    assert store.get(entry.id).reviewed_by == "admin:maria"
    store.update(
        entry.id,
        title=entry.title,
        answer=entry.answer,
        body=entry.body + " Más detalle.",
        crop=entry.crop,
        topic=entry.topic,
        keywords=entry.keywords,
        source=entry.source,
    )
    assert store.get(entry.id).review_status == "pending"


def _index(store: KnowledgeStore) -> None:
    for entry in store.needing_terms(TERMS_VERSION):
        store.set_terms(
            entry.id,
            title_terms=" ".join(terms(f"{entry.title} {entry.keywords}")),
            text_terms=" ".join(terms(f"{entry.answer} {entry.body}")),
            version=TERMS_VERSION,
        )


def test_full_text_search_finds_entries_of_the_crop_and_general_ones(database: Database) -> None:
    store = KnowledgeStore(database)
    _index(store)
    assert store.needing_terms(TERMS_VERSION) == []
    found = [store.get(i) for i in store.search(terms("rancha hojas"), crops=["papa"], limit=5)]
    assert found[0].key == "papa-plagas-rancha"
    assert all(e.crop in (None, "papa") for e in found)


def test_search_ranks_the_same_on_both_databases(database: Database) -> None:
    store = KnowledgeStore(database)
    _index(store)
    ids = store.search(terms("riego goteo filtros"), crops=["tomate"], limit=3)
    assert store.get(ids[0]).key == "general-riego-goteo-mantenimiento"


def test_retired_entries_are_not_found(database: Database) -> None:
    store = KnowledgeStore(database)
    _index(store)
    rancha = store.by_key("papa-plagas-rancha")
    store.retire(rancha.id)
    assert rancha.id not in store.search(terms("rancha"), crops=["papa"], limit=10)


def test_an_edited_entry_is_indexed_again(database: Database) -> None:
    store = KnowledgeStore(database)
    _index(store)
    entry = store.by_key("papa-plagas-rancha")
    store.update(
        entry.id,
        title=entry.title,
        answer=entry.answer,
        body=entry.body,
        crop=entry.crop,
        topic=entry.topic,
        keywords=f"{entry.keywords} quemazon",
        source=entry.source,
    )
    assert [e.id for e in store.needing_terms(TERMS_VERSION)] == [entry.id]
    _index(store)
    assert store.search(terms("quemazon"), crops=["papa"], limit=3) == [entry.id]


def test_unsourced_starter_advice_of_version_1_is_removed_unless_edited(
    database_url: str,
) -> None:
    db = Database(database_url)  # as a release with schema version 1 left it
    try:
        with db.engine.begin() as conn:
            schema_version.create(conn)
            MIGRATIONS[0][1](conn)
            conn.execute(schema_version.insert().values(version=1, applied_at=JAN))
            for title, updated in (("sin tocar", JAN), ("editada", FEB)):
                conn.execute(
                    sa.text(
                        "INSERT INTO knowledge (title, body, keywords, source, created_at, "
                        "updated_at) VALUES (:title, 'Texto.', '', :source, :created, :updated)"
                    ),
                    {"title": title, "source": V1_SOURCE, "created": JAN, "updated": updated},
                )
        db.migrate()
        titles = {e.title for e in KnowledgeStore(db).all()}
        assert "editada" in titles and "sin tocar" not in titles
        assert len(titles) == len(SEED) + 1
    finally:
        db.close()
