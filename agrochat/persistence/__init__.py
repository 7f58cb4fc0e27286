"""The database: schema, migrations and one small store per table family."""

from agrochat.persistence._admins import (
    MIN_PASSWORD_LENGTH,
    AdminSession,
    AdminSessionStore,
    AdminStore,
)
from agrochat.persistence._alerts import (
    LEVELS,
    MAX_MESSAGE_CHARS,
    STATUSES,
    WINDOW,
    Alert,
    AlertStatus,
    AlertStore,
    NewAlert,
)
from agrochat.persistence._audit import AuditEntry, last_escalation, recent_audit, record_audit
from agrochat.persistence._database import Database, ServingLock, open_database, utcnow
from agrochat.persistence._days import Days, percentile
from agrochat.persistence._knowledge import REVIEW_STATUSES, KnowledgeEntry, KnowledgeStore
from agrochat.persistence._leases import Lease, LeaseStore
from agrochat.persistence._locks import ProducerBusy, ProducerLocks, producer_lock_key
from agrochat.persistence._messages import (
    VOICE_TYPES,
    DuplicateMessage,
    History,
    MessageStatus,
    MessageStore,
    StoredMessage,
    Traffic,
)
from agrochat.persistence._outbox import OutboxMessage, OutboxStatus, OutboxStore
from agrochat.persistence._processes import ProcessInfo, ProcessRow, ProcessStore
from agrochat.persistence._producers import (
    SEGMENT_FIELDS,
    Producer,
    ProducerStore,
    ProducerSummary,
)
from agrochat.persistence._reviews import (
    ASKED_AGAIN_WITHIN,
    ReviewItem,
    ReviewReason,
    ReviewStatus,
    ReviewStore,
)
from agrochat.persistence._seeds import apply_knowledge_seed, load_seed
from agrochat.persistence._voice_notes import VoiceNote, VoiceNoteStore

__all__ = [
    "ASKED_AGAIN_WITHIN",
    "LEVELS",
    "MAX_MESSAGE_CHARS",
    "MIN_PASSWORD_LENGTH",
    "REVIEW_STATUSES",
    "SEGMENT_FIELDS",
    "STATUSES",
    "VOICE_TYPES",
    "WINDOW",
    "AdminSession",
    "AdminSessionStore",
    "AdminStore",
    "Alert",
    "AlertStatus",
    "AlertStore",
    "AuditEntry",
    "Database",
    "Days",
    "DuplicateMessage",
    "History",
    "KnowledgeEntry",
    "KnowledgeStore",
    "Lease",
    "LeaseStore",
    "MessageStatus",
    "MessageStore",
    "NewAlert",
    "OutboxMessage",
    "OutboxStatus",
    "OutboxStore",
    "ProcessInfo",
    "ProcessRow",
    "ProcessStore",
    "Producer",
    "ProducerBusy",
    "ProducerLocks",
    "ProducerStore",
    "ProducerSummary",
    "ReviewItem",
    "ReviewReason",
    "ReviewStatus",
    "ReviewStore",
    "ServingLock",
    "StoredMessage",
    "Traffic",
    "VoiceNote",
    "VoiceNoteStore",
    "apply_knowledge_seed",
    "last_escalation",
    "load_seed",
    "open_database",
    "percentile",
    "producer_lock_key",
    "recent_audit",
    "record_audit",
    "utcnow",
]
