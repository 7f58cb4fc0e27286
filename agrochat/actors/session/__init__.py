"""Conversations: one SessionActor per producer, the directory that starts and passivates them,
and the stages a reply goes through (read, search, understand, review, compose, persist)."""

from agrochat.actors.session._actor import ConversationFactory, SessionActor
from agrochat.actors.session._conversation import Clock, Conversation, Inference, Outcome, Status
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
from agrochat.actors.session._persist import Delivery
from agrochat.actors.session._signals import vocabulary
from agrochat.actors.session._stats import SessionStats
from agrochat.actors.session._voice import Heard, MediaSource, VoiceNotes

__all__ = [
    "Accepted",
    "Clock",
    "Conversation",
    "ConversationFactory",
    "Delivery",
    "Form",
    "FormField",
    "FormValidation",
    "Heard",
    "Inference",
    "MediaSource",
    "Outcome",
    "Rejected",
    "SessionActor",
    "SessionDirectory",
    "SessionGateway",
    "SessionStats",
    "Status",
    "VoiceNotes",
    "load_form",
    "validate_fields",
    "validate_value",
    "vocabulary",
]
