"""The audio of producers' voice notes, one row per message (why in the database: see the
``voice_notes`` table in ``_schema``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import voice_notes


@dataclass(frozen=True)
class VoiceNote:
    message_id: int
    producer_id: int
    mimetype: str
    audio: bytes


class VoiceNoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(
        self,
        producer_id: int,
        message_id: int,
        audio: bytes,
        mimetype: str,
        *,
        now: dt.datetime | None = None,
    ) -> None:
        """Keep a message's audio; a second download of the same note replaces the first."""
        with self.db.tx() as conn:
            conn.execute(voice_notes.delete().where(voice_notes.c.message_id == message_id))
            conn.execute(
                voice_notes.insert().values(
                    producer_id=producer_id,
                    message_id=message_id,
                    mimetype=mimetype,
                    size=len(audio),
                    audio=audio,
                    created_at=now or utcnow(),
                )
            )

    def get(self, producer_id: int, message_id: int) -> VoiceNote | None:
        """This producer's note for that message (another producer's never)."""
        with self.db.tx() as conn:
            row = conn.execute(
                sa.select(voice_notes).where(
                    voice_notes.c.message_id == message_id,
                    voice_notes.c.producer_id == producer_id,
                )
            ).first()
        if row is None:
            return None
        return VoiceNote(
            message_id=int(row.message_id),
            producer_id=int(row.producer_id),
            mimetype=row.mimetype,
            audio=bytes(row.audio),
        )

    def stored(self, message_ids: Sequence[int]) -> set[int]:
        """Which of these messages have their audio kept (without reading the audio)."""
        if not message_ids:
            return set()
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(voice_notes.c.message_id).where(
                    voice_notes.c.message_id.in_(list(message_ids))
                )
            ).all()
        return {int(r.message_id) for r in rows}
