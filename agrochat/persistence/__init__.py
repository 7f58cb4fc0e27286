"""The database: schema, migrations and one small store per table family."""

from agrochat.persistence._admins import (
    MIN_PASSWORD_LENGTH,
    AdminSession,
    AdminSessionStore,
    AdminStore,
)
from agrochat.persistence._alerts import LEVELS, MAX_MESSAGE_CHARS, Alert, AlertStore, NewAlert
from agrochat.persistence._audit import record_audit
from agrochat.persistence._database import Database, open_database, utcnow
from agrochat.persistence._knowledge import KnowledgeEntry, KnowledgeStore
from agrochat.persistence._messages import DuplicateMessage, History, MessageStore, StoredMessage
from agrochat.persistence._outbox import OutboxMessage, OutboxStore
from agrochat.persistence._producers import SEGMENT_FIELDS, Producer, ProducerStore

__all__ = [
    "LEVELS",
    "MAX_MESSAGE_CHARS",
    "MIN_PASSWORD_LENGTH",
    "SEGMENT_FIELDS",
    "AdminSession",
    "AdminSessionStore",
    "AdminStore",
    "Alert",
    "AlertStore",
    "Database",
    "DuplicateMessage",
    "History",
    "KnowledgeEntry",
    "KnowledgeStore",
    "MessageStore",
    "NewAlert",
    "OutboxMessage",
    "OutboxStore",
    "Producer",
    "ProducerStore",
    "StoredMessage",
    "open_database",
    "record_audit",
    "utcnow",
]
