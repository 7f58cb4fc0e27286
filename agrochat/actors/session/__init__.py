"""Conversations: one SessionActor per producer, the directory that starts and passivates them,
the context orchestrator and forms."""

from agrochat.actors.session._actor import SessionActor
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
    Outcome,
    Outgoing,
)
from agrochat.actors.session._directory import SessionDirectory
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
    "Outcome",
    "Outgoing",
    "Rejected",
    "SessionActor",
    "SessionDirectory",
    "SessionGateway",
    "Turn",
    "build_context",
    "estimate_tokens",
    "load_form",
    "rank_knowledge",
    "validate_fields",
    "validate_value",
]
