"""The tables, for tests that set up or inspect rows directly.

agrochat itself reaches the database only through the stores that ``agrochat.persistence``
exports (ruff's TID251 keeps its ``_*`` modules private); tests may look underneath, through
this one door.
"""

from agrochat.persistence._schema import (
    LATEST_VERSION,
    MIGRATIONS,
    admin_sessions,
    admins,
    alerts,
    audit,
    form_fields,
    knowledge,
    leases,
    messages,
    metadata,
    outbox,
    processes,
    producers,
    reactions,
    reviews,
    schema_version,
    voice_notes,
)

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "admin_sessions",
    "admins",
    "alerts",
    "audit",
    "form_fields",
    "knowledge",
    "leases",
    "messages",
    "metadata",
    "outbox",
    "processes",
    "producers",
    "reactions",
    "reviews",
    "schema_version",
    "voice_notes",
]
