"""The explicit, versioned schema.

Tables and indexes are declared here with SQLAlchemy Core, not grown by ``dataset`` from the rows
inserted: ``dataset`` is used with ``ensure_schema=False``. Each entry of ``MIGRATIONS`` moves the
database from one version to the next; ``schema_version`` records what has been applied, and
``migrate()`` runs whatever is missing on start, so an old database is upgraded in place.

Times are naive UTC ``DateTime`` columns: SQLite has no time zones, and one convention on both
databases keeps the stores' comparisons simple.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

producers = sa.Table(
    "producers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("phone", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(200)),
    # nuevo (registration running) | activo | inactivo
    sa.Column("status", sa.String(16), nullable=False, server_default="nuevo"),
    sa.Column("needs_human", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # Drives WhatsApp's 24-hour customer-service window.
    sa.Column("last_inbound_at", sa.DateTime),
)

form_fields = sa.Table(
    "form_fields",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "producer_id",
        sa.Integer,
        sa.ForeignKey("producers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("form", sa.String(64), nullable=False, server_default="perfil"),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    # model | api | admin | console
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("producer_id", "form", "field", name="uq_form_fields_producer_field"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "producer_id",
        sa.Integer,
        sa.ForeignKey("producers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("direction", sa.String(3), nullable=False),  # in | out
    sa.Column("text", sa.Text, nullable=False),
    # The gateway's id for inbound messages; unique so a redelivered event is seen twice once.
    sa.Column("gateway_message_id", sa.String(200), unique=True),
    sa.Column("reply_to_id", sa.Integer, sa.ForeignKey("messages.id")),
    sa.Column("role", sa.String(32)),
    sa.Column("model_output", sa.Text),  # JSON of the seed's model_output, for replies
    sa.Column("latency_ms", sa.Integer),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("completion_tokens", sa.Integer),
    # received | answered | failed (inbound); the reply's status lives in the outbox
    sa.Column("status", sa.String(16), nullable=False, server_default="received"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_messages_producer_created", "producer_id", "created_at"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("producer_id", sa.Integer, sa.ForeignKey("producers.id", ondelete="CASCADE")),
    sa.Column("phone", sa.String(32)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),  # baja | media | alta
    sa.Column("source", sa.String(8), nullable=False),  # admin | api | model | rule
    # pending | sending | sent | failed | cancelled | expired
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("scheduled_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("lease_until", sa.DateTime),
    sa.Column("claimed_by", sa.String(64)),
    # text | template | waiting: how the 24 h window rule decided to deliver it
    sa.Column("delivery", sa.String(16)),
    # A rule's idempotency key (rule, producer, day): re-running a day creates nothing twice.
    sa.Column("rule_key", sa.String(200), unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Index("ix_alerts_status_scheduled", "status", "scheduled_at"),
    sa.Index("ix_alerts_producer", "producer_id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id")),
    sa.Column("reply_to_id", sa.Integer, sa.ForeignKey("messages.id")),
    # pending | sending | sent | failed
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("lease_until", sa.DateTime),
    sa.Column("gateway_message_id", sa.String(200)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Index("ix_outbox_status_created", "status", "created_at"),
)

admins = sa.Table(
    "admins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_login_at", sa.DateTime),
)

# The admin panel's server-side login sessions. Only a hash of the cookie's token is stored: a
# leaked database (or backup) must not let anyone act as a logged-in admin.
admin_sessions = sa.Table(
    "admin_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column(
        "admin_id",
        sa.Integer,
        sa.ForeignKey("admins.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(200)),
    sa.Index("ix_admin_sessions_expires", "expires_at"),
)

knowledge = sa.Table(
    "knowledge",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("crop", sa.String(64)),  # None: applies to every crop
    sa.Column("topic", sa.String(32)),  # riego | plagas | fertilizacion | clima | cosecha | ...
    sa.Column("keywords", sa.Text, nullable=False, server_default=""),
    sa.Column("source", sa.String(200)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_knowledge_crop_topic", "crop", "topic"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),  # admin:<name> | api | system | model
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200)),
    sa.Column("details", sa.Text),  # JSON
    sa.Index("ix_audit_at", "at"),
)


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(
        conn, tables=[t for t in metadata.sorted_tables if t.name != "schema_version"]
    )


# Append only: a released migration is never edited, the next change is a new entry.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _v1_initial),
]

LATEST_VERSION = MIGRATIONS[-1][0]
