"""The database: schema, migrations and one small store per table family."""

from agrochat.persistence._database import Database, open_database, utcnow

__all__ = ["Database", "open_database", "utcnow"]
