"""The database: schema, migrations and one small store per table family."""

from agrochat.persistence._alerts import Alert, AlertStore, NewAlert
from agrochat.persistence._database import Database, open_database, utcnow
from agrochat.persistence._outbox import OutboxMessage, OutboxStore

__all__ = [
    "Alert",
    "AlertStore",
    "Database",
    "NewAlert",
    "OutboxMessage",
    "OutboxStore",
    "open_database",
    "utcnow",
]
