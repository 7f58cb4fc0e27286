"""Vetted advice as retrieval sees it: stems, the spelling of farmers' words, the cached and
indexed base every session reads, and the scoring that picks an entry (or none)."""

from agrochat.knowledge._base import KnowledgeBase
from agrochat.knowledge._figures import answers as answers_figure
from agrochat.knowledge._figures import asked as asked_figure
from agrochat.knowledge._search import (
    Hit,
    Index,
    IndexedEntry,
    Query,
    detect_topic,
    focus_word,
    index_entry,
)
from agrochat.knowledge._terms import (
    STOPWORDS,
    TERMS_VERSION,
    Speller,
    common_word,
    content_words,
    normalize,
    spanish_words,
    stem,
    terms,
)

__all__ = [
    "STOPWORDS",
    "TERMS_VERSION",
    "Hit",
    "Index",
    "IndexedEntry",
    "KnowledgeBase",
    "Query",
    "Speller",
    "answers_figure",
    "asked_figure",
    "common_word",
    "content_words",
    "detect_topic",
    "focus_word",
    "index_entry",
    "normalize",
    "spanish_words",
    "stem",
    "terms",
]
