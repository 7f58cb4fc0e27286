"""Vetted advice: the packaged seed, the cached base every session reads."""

from agrochat.knowledge._base import KnowledgeBase
from agrochat.knowledge._seed import load_knowledge_seed, seed_knowledge

__all__ = ["KnowledgeBase", "load_knowledge_seed", "seed_knowledge"]
