"""The explicit, versioned schema.

Tables and indexes are declared here with SQLAlchemy Core, not grown by ``dataset`` from the rows
inserted: ``dataset`` is used with ``ensure_schema=False``. Each entry of ``MIGRATIONS`` moves the
database from one version to the next; ``schema_version`` records what has been applied, and
``migrate()`` runs whatever is missing on start, so an old database is upgraded in place.

Times are naive UTC ``DateTime`` columns: SQLite has no time zones, and one convention on both
databases keeps the stores' comparisons simple.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agrochat.persistence._seeds import apply_knowledge_seed, load_seed

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
    # The gateway's id for inbound messages; unique (per producer, version 4) so a redelivered
    # event is stored once.
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
    sa.Column("topic", sa.String(32)),  # riego | plagas | fertilizacion | clima | ...
    sa.Column("keywords", sa.Text, nullable=False, server_default=""),
    sa.Column("source", sa.String(200)),  # the publisher, short ("INIA", "FAO")
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

# The schema as version 1 created it, taken before later versions add to the tables above:
# migration 1 creates exactly this, whatever the code declares today, and each later migration
# adds its part (an old database and a new one end the same).
_VERSION_1 = sa.MetaData()
for _table in metadata.sorted_tables:
    if _table.name != "schema_version":
        _table.to_metadata(_VERSION_1)

# -- version 2: vetted knowledge ------------------------------------------------------------
# Each entry's ``answer`` is what a producer reads (at most three sentences), ``body`` the
# longer text for the panel; every fact in both comes from the named source.
_KNOWLEDGE_V2 = (
    # Stable name of a seeded entry: a later seed updates the entry with the same key, unless
    # an admin edited it (``edited_at``) or retired it.
    sa.Column("key", sa.String(120)),
    sa.Column("answer", sa.Text, nullable=False, server_default=""),
    sa.Column("source_title", sa.String(400)),
    sa.Column("source_year", sa.Integer),
    sa.Column("source_url", sa.String(500)),
    # pending | reviewed: an agronomist signs entries off in the panel.
    sa.Column("review_status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("reviewed_by", sa.String(64)),
    sa.Column("reviewed_at", sa.DateTime),
    sa.Column("origin", sa.String(8), nullable=False, server_default="admin"),  # seed | admin
    sa.Column("edited_at", sa.DateTime),
    sa.Column("retired_at", sa.DateTime),
    # Retrieval's stems (agrochat.knowledge), and the version of the rules that made them.
    sa.Column("title_terms", sa.Text),
    sa.Column("text_terms", sa.Text),
    sa.Column("terms_version", sa.Integer),
)
for _column in _KNOWLEDGE_V2:
    knowledge.append_column(_column)

# -- version 3: WhatsApp both ways ------------------------------------------------------------
_WHATSAPP_V3 = {
    # Which of our numbers (a WAHA session, a Cloud API phone-number id) the producer writes
    # to: replies and alerts go out through it. None: the first configured.
    "producers": (
        sa.Column("channel", sa.String(64)),
        # An admin is answering: the assistant stays quiet until they hand the chat back.
        sa.Column("taken_over", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("taken_over_by", sa.String(64)),
    ),
    "messages": (
        # image, ptt, document...: what a producer sent that agrochat does not read yet.
        sa.Column("media_type", sa.String(32)),
        # Who wrote an outbound message: the assistant (None) or an admin ("admin:maria").
        sa.Column("author", sa.String(64)),
    ),
    "outbox": (
        sa.Column("channel", sa.String(64)),
        # What the gateway says became of it: sent | delivered | read | failed.
        sa.Column("delivery_status", sa.String(16)),
        sa.Column("delivery_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime),
        sa.Column("read_at", sa.DateTime),
    ),
}
for _name, _columns in _WHATSAPP_V3.items():
    for _column in _columns:
        metadata.tables[_name].append_column(_column)

# A producer's 👍/👎 (any emoji) on one of our messages: the first signal of answer quality.
reactions = sa.Table(
    "reactions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "producer_id",
        sa.Integer,
        sa.ForeignKey("producers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="CASCADE")),
    sa.Column("emoji", sa.String(16), nullable=False),  # "" once the producer removed it
    # The gateway's id for the reaction on that message: one row per reacted message.
    sa.Column("target_gateway_id", sa.String(200), nullable=False, unique=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_reactions_updated", "updated_at"),
)


# -- version 4: a gateway's message id is the producer's ------------------------------------------
# Version 1 made ``gateway_message_id`` unique over every producer, and lookups by it named no
# producer: ``/agent`` with producer B's phone and producer A's ``message_id`` was taken for A's
# message (B's dropped, A's reply with A's name returned to B). An id now counts only together
# with its producer: (producer, id) is unique, and every lookup names both.
GATEWAY_ID_PER_PRODUCER = "uq_messages_producer_gateway_id"


def _unique_per_producer(table: sa.Table) -> None:
    """Today's declaration of ``messages``: the column's own unique goes, the pair's comes."""
    column = table.c.gateway_message_id
    column.unique = False
    for constraint in list(table.constraints):
        if isinstance(constraint, sa.UniqueConstraint) and list(constraint.columns) == [column]:
            table.constraints.remove(constraint)
    table.append_constraint(
        sa.UniqueConstraint("producer_id", "gateway_message_id", name=GATEWAY_ID_PER_PRODUCER)
    )


_unique_per_producer(messages)


# -- version 5: voice notes ----------------------------------------------------------------------
_VOICE_V5 = {
    "messages": (
        # Where the gateway keeps the audio until we have it: WAHA's file path
        # ("/api/files/default/….oga", fetched from AGROCHAT_WAHA_URL with the key), or the
        # Cloud API's media id. Kept so a download that failed can be tried again.
        sa.Column("media_source", sa.String(1024)),
        sa.Column("media_mimetype", sa.String(128)),
        # How sure the transcriber was of the text it gave (0..1); None: not a voice note.
        sa.Column("transcript_confidence", sa.Float),
    ),
}
for _name, _columns in _VOICE_V5.items():
    for _column in _columns:
        metadata.tables[_name].append_column(_column)

# The audio of a voice note, in the database rather than in files: it is backed up and
# restored with the conversation it belongs to, several agrochat processes on one PostgreSQL
# see the same notes (a file in one process's data dir would be missing from the others'
# panel), it goes with the message in one transaction, and a producer's deletion takes it.
# Notes are small (WhatsApp's Opus: about 2 KB a second; capped by AGROCHAT_VOICE_MAX_BYTES).
voice_notes = sa.Table(
    "voice_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "producer_id",
        sa.Integer,
        sa.ForeignKey("producers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "message_id",
        sa.Integer,
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("mimetype", sa.String(128), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("audio", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)


def _add_columns(conn: Connection, table: str, columns: Iterable[sa.Column]) -> None:  # type: ignore[type-arg]
    for column in columns:
        kind = column.type.compile(dialect=conn.dialect)
        default = ""
        if column.server_default is not None:
            arg = column.server_default.arg  # type: ignore[attr-defined]
            value = arg if isinstance(arg, str) else str(arg.compile(dialect=conn.dialect))
            default = f" DEFAULT '{value}'" if isinstance(arg, str) else f" DEFAULT {value}"
        null = " NOT NULL" if not column.nullable else ""
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}{default}{null}"))


def _v1_initial(conn: Connection) -> None:
    _VERSION_1.create_all(conn)


# What the first releases seeded: unsourced starter advice, removed by version 2 unless an
# admin edited it since (then it is theirs to keep, and shown as pending review).
_V1_SEED_SOURCE = "agrochat: base inicial (revisar con un agrónomo local)"


def _v2_vetted_knowledge(conn: Connection) -> None:
    """Sourced entries with a short answer, review status, soft delete and full-text search
    over retrieval's stems; the unsourced starter advice goes; the sourced seed comes."""
    _add_columns(conn, "knowledge", _KNOWLEDGE_V2)
    conn.execute(sa.text("CREATE UNIQUE INDEX ux_knowledge_key ON knowledge (key)"))
    conn.execute(
        knowledge.delete().where(
            knowledge.c.source == _V1_SEED_SOURCE,
            knowledge.c.updated_at == knowledge.c.created_at,
        )
    )
    conn.execute(knowledge.update().where(knowledge.c.answer == "").values(answer=knowledge.c.body))
    if conn.dialect.name == "postgresql":
        # Stems are agrochat's own (one stemming on every database, see agrochat.knowledge),
        # so the configuration only splits them: 'simple'.
        conn.execute(
            sa.text(
                "ALTER TABLE knowledge ADD COLUMN search tsvector GENERATED ALWAYS AS ("
                "setweight(to_tsvector('simple', coalesce(title_terms, '')), 'A') || "
                "setweight(to_tsvector('simple', coalesce(text_terms, '')), 'B')) STORED"
            )
        )
        conn.execute(sa.text("CREATE INDEX ix_knowledge_search ON knowledge USING gin (search)"))
    else:
        conn.execute(
            sa.text(
                "CREATE VIRTUAL TABLE knowledge_fts USING fts5(title_terms, text_terms, "
                "content='knowledge', content_rowid='id', "
                "tokenize='unicode61 remove_diacritics 2')"
            )
        )
        # FTS5's external-content triggers: the index follows every write to the table.
        for statement in (
            "CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge BEGIN "
            "INSERT INTO knowledge_fts(rowid, title_terms, text_terms) "
            "VALUES (new.id, new.title_terms, new.text_terms); END",
            "CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge BEGIN "
            "INSERT INTO knowledge_fts(knowledge_fts, rowid, title_terms, text_terms) "
            "VALUES ('delete', old.id, old.title_terms, old.text_terms); END",
            "CREATE TRIGGER knowledge_fts_update AFTER UPDATE ON knowledge BEGIN "
            "INSERT INTO knowledge_fts(knowledge_fts, rowid, title_terms, text_terms) "
            "VALUES ('delete', old.id, old.title_terms, old.text_terms); "
            "INSERT INTO knowledge_fts(rowid, title_terms, text_terms) "
            "VALUES (new.id, new.title_terms, new.text_terms); END",
        ):
            conn.execute(sa.text(statement))
    apply_knowledge_seed(conn, knowledge, load_seed("knowledge-"))


def _v3_whatsapp(conn: Connection) -> None:
    """Numbers (channels), human takeover, media, delivery states and reactions."""
    for table, columns in _WHATSAPP_V3.items():
        _add_columns(conn, table, columns)
    conn.execute(sa.text("CREATE INDEX ix_outbox_gateway_message ON outbox (gateway_message_id)"))
    reactions.create(conn)


def _v4_gateway_ids_per_producer(conn: Connection) -> None:
    """``messages.gateway_message_id`` unique per producer instead of over all of them."""
    if conn.dialect.name == "postgresql":
        for constraint in sa.inspect(conn).get_unique_constraints("messages"):
            if constraint["column_names"] == ["gateway_message_id"]:
                conn.execute(
                    sa.text(f'ALTER TABLE messages DROP CONSTRAINT "{constraint["name"]}"')
                )
        conn.execute(
            sa.text(
                f"ALTER TABLE messages ADD CONSTRAINT {GATEWAY_ID_PER_PRODUCER} "
                "UNIQUE (producer_id, gateway_message_id)"
            )
        )
        return
    # SQLite cannot drop a column's UNIQUE (its automatic index belongs to the table): the table
    # is rebuilt, as sqlite.org/lang_altertable.html#otheralter says. ``Database.migrate`` runs
    # this with foreign keys off: the DROP would otherwise delete the reactions that cascade
    # from the messages and refuse for the outbox rows that name them; it checks every key
    # before the commit.
    rebuilt = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(rebuilt)
    new = rebuilt.tables["messages"].to_metadata(rebuilt, name="messages_v4")
    # Today's table may have columns later versions add (they are nullable): only the ones
    # the old table has are copied; the later migration finds the rest already there.
    present = {c["name"] for c in sa.inspect(conn).get_columns("messages")}
    columns = ", ".join(c.name for c in new.columns if c.name in present)
    conn.execute(sa.schema.CreateTable(new))
    conn.execute(sa.text(f"INSERT INTO messages_v4 ({columns}) SELECT {columns} FROM messages"))
    conn.execute(sa.text("DROP TABLE messages"))
    conn.execute(sa.text("ALTER TABLE messages_v4 RENAME TO messages"))
    for index in messages.indexes:
        index.create(conn)


def _v5_voice_notes(conn: Connection) -> None:
    """Voice notes: where a message's audio comes from, its transcript's confidence, the audio."""
    for table, columns in _VOICE_V5.items():
        # SQLite's version-4 rebuild made today's ``messages``: these may be there already.
        present = {c["name"] for c in sa.inspect(conn).get_columns(table)}
        _add_columns(conn, table, [c for c in columns if c.name not in present])
    voice_notes.create(conn)


# -- version 6: answers to review ---------------------------------------------------------------
# An agronomist's review of one of the assistant's replies. Why a reply needs a look (no vetted
# answer, a 👎, the producer asking again) is read from the conversation itself; this row holds
# only what people decided: an admin's flag, and how the reply was dealt with.
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "message_id",
        sa.Integer,
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    # pending | fine | answered | entry: still to look at, or how it was dealt with.
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("flagged_by", sa.String(64)),
    sa.Column("flagged_at", sa.DateTime),
    sa.Column("handled_by", sa.String(64)),
    sa.Column("handled_at", sa.DateTime),
    # What came of it: the correct answer sent (the admin's message), or the new entry.
    sa.Column("answer_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="SET NULL")),
    sa.Column("knowledge_id", sa.Integer, sa.ForeignKey("knowledge.id", ondelete="SET NULL")),
    sa.Index("ix_reviews_status", "status"),
)


def _v6_answer_reviews(conn: Connection) -> None:
    """The review queue's decisions on the assistant's replies."""
    reviews.create(conn)


# -- version 7: processes and leases -----------------------------------------------------------
# Several agrochat processes on one PostgreSQL: each writes a heartbeat row (who is alive, what
# it holds, for the panel and the operators), and one of them at a time holds each short lease
# (the WAHA session's event stream: "gateway:waha:<session>"). On SQLite the one process holds
# everything through the same rows.
processes = sa.Table(
    "processes",
    metadata,
    # "<host>:<pid>:<random>", made when the process starts: a pid alone repeats across hosts
    # and restarts.
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("bind", sa.String(64), nullable=False),  # HOST:PORT its HTTP server listens on
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("heartbeat_at", sa.DateTime, nullable=False),
    sa.Column("stopped_at", sa.DateTime),  # a clean stop; a crash leaves it None
    # JSON: what it holds ({"gateway": ["default"], "producers": 3}), as of its last heartbeat.
    sa.Column("owns", sa.Text, nullable=False, server_default="{}"),
    sa.Index("ix_processes_heartbeat", "heartbeat_at"),
)

# A lease is held by one process (``processes.id``, not a foreign key: a lease outlives a row
# pruned after a crash) until ``expires_at``; a free lease has no row.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),
    sa.Column("renewed_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)


def _v7_processes_and_leases(conn: Connection) -> None:
    """Process heartbeats and leader leases, for several processes on one database."""
    processes.create(conn)
    leases.create(conn)


# Append only: a released migration is never edited, the next change is a new entry.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _v1_initial),
    (2, _v2_vetted_knowledge),
    (3, _v3_whatsapp),
    (4, _v4_gateway_ids_per_producer),
    (5, _v5_voice_notes),
    (6, _v6_answer_reviews),
    (7, _v7_processes_and_leases),
]

LATEST_VERSION = MIGRATIONS[-1][0]
