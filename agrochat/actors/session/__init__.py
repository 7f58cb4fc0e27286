"""Conversations: one SessionActor per producer, the directory that starts and passivates them,
the context orchestrator, forms, and the terminal chat."""

from agrochat.actors.session._actor import SessionActor, SessionActorProxy
from agrochat.actors.session._context import (
    SYSTEM_PROMPT,
    BuiltContext,
    ContextInput,
    Turn,
    build_context,
    estimate_tokens,
)
from agrochat.actors.session._conversation import (
    BUSY,
    CRASHED,
    TIMEOUT,
    UNAVAILABLE,
    Clock,
    Conversation,
    KnowledgeBase,
    Outcome,
    Outgoing,
)
from agrochat.actors.session._directory import (
    SessionDirectory,
    SessionDirectoryProxy,
    load_knowledge_seed,
)
from agrochat.actors.session._forms import (
    Accepted,
    Form,
    FormField,
    FormValidation,
    Rejected,
    load_form,
    validate_fields,
    validate_value,
)
from agrochat.actors.session._gateway import SessionGateway
from agrochat.actors.session._model import Inference
from agrochat.actors.session._retrieval import rank_knowledge
from agrochat.actors.session._terminal import run_terminal_chat

__all__ = [
    "BUSY",
    "CRASHED",
    "SYSTEM_PROMPT",
    "TIMEOUT",
    "UNAVAILABLE",
    "Accepted",
    "BuiltContext",
    "Clock",
    "ContextInput",
    "Conversation",
    "Form",
    "FormField",
    "FormValidation",
    "Inference",
    "KnowledgeBase",
    "Outcome",
    "Outgoing",
    "Rejected",
    "SessionActor",
    "SessionActorProxy",
    "SessionDirectory",
    "SessionDirectoryProxy",
    "SessionGateway",
    "Turn",
    "build_context",
    "estimate_tokens",
    "load_form",
    "load_knowledge_seed",
    "rank_knowledge",
    "run_terminal_chat",
    "validate_fields",
    "validate_value",
]
