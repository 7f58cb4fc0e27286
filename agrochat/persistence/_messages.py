"""Conversation history: every message in (from a producer) and out (our reply), in order.

An inbound message goes through ``received`` → ``answered`` | ``failed``. ``received`` also means
"accepted but not answered yet" (the model was overloaded, or the process stopped mid-reply):
such a message is answered later, never dropped. A reply is stored in the same transaction that
marks its inbound message answered or failed, so history never shows one without the other.

``gateway_message_id`` is unique: the same gateway event delivered twice is stored once, and the
second delivery finds the first message (and its reply) instead of asking the model again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import messages, producers

INBOUND = "in"
OUTBOUND = "out"


class MessageStatus(StrEnum):
    """An inbound message's lifecycle (above); a reply is stored ``answered``."""

    RECEIVED = "received"
    ANSWERED = "answered"
    FAILED = "failed"


class DuplicateMessage(Exception):
    """An inbound message with this gateway id is already stored."""

    def __init__(self, existing: StoredMessage) -> None:
        super().__init__(f"gateway message {existing.gateway_message_id} already stored")
        self.existing = existing


@dataclass(frozen=True)
class StoredMessage:
    id: int
    producer_id: int
    direction: str
    text: str
    gateway_message_id: str | None
    reply_to_id: int | None
    role: str | None
    model_output: dict[str, Any] | None
    latency_ms: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    status: str
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredMessage:
        m = row._mapping
        output = m["model_output"]
        return cls(
            id=int(m["id"]),
            producer_id=int(m["producer_id"]),
            direction=m["direction"],
            text=m["text"],
            gateway_message_id=m["gateway_message_id"],
            reply_to_id=m["reply_to_id"],
            role=m["role"],
            model_output=json.loads(output) if output else None,
            latency_ms=m["latency_ms"],
            prompt_tokens=m["prompt_tokens"],
            completion_tokens=m["completion_tokens"],
            status=m["status"],
            created_at=m["created_at"],
        )


def _stored(message_id: int, values: dict[str, Any]) -> StoredMessage:
    """The row just inserted, without reading it back."""
    output = values.get("model_output")
    return StoredMessage(
        id=message_id,
        producer_id=int(values["producer_id"]),
        direction=values["direction"],
        text=values["text"],
        gateway_message_id=values.get("gateway_message_id"),
        reply_to_id=values.get("reply_to_id"),
        role=values.get("role"),
        model_output=json.loads(output) if output else None,
        latency_ms=values.get("latency_ms"),
        prompt_tokens=values.get("prompt_tokens"),
        completion_tokens=values.get("completion_tokens"),
        status=values["status"],
        created_at=values["created_at"],
    )


@dataclass(frozen=True)
class History:
    """The most recent messages of a producer, oldest first, and how many there are in all.

    ``total`` lets the context builder number messages (``total - len(messages) + i``) so that
    where it cuts old history does not move with every new message.
    """

    total: int
    messages: Sequence[StoredMessage]


@dataclass(frozen=True)
class Traffic:
    """Messages since a moment: in, out, and the inbound ones that failed."""

    inbound: int
    outbound: int
    failed: int


class MessageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def by_gateway_id(self, gateway_message_id: str) -> StoredMessage | None:
        with self.db.tx() as conn:
            row = conn.execute(
                sa.select(messages).where(messages.c.gateway_message_id == gateway_message_id)
            ).first()
            return StoredMessage.from_row(row) if row is not None else None

    def get(self, message_id: int) -> StoredMessage | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(messages).where(messages.c.id == message_id)).first()
            return StoredMessage.from_row(row) if row is not None else None

    def add_inbound(
        self,
        producer_id: int,
        text: str,
        *,
        gateway_message_id: str | None = None,
        role: str | None = None,
        now: dt.datetime | None = None,
    ) -> StoredMessage:
        """Store a producer's message as ``received``; DuplicateMessage if its id is known.

        Also sets the producer's ``last_inbound_at`` (WhatsApp's 24-hour window starts at a
        message from them), in the same transaction.
        """
        now = now or utcnow()
        values: dict[str, Any] = {
            "producer_id": producer_id,
            "direction": INBOUND,
            "text": text,
            "gateway_message_id": gateway_message_id,
            "role": role,
            "status": MessageStatus.RECEIVED,
            "created_at": now,
        }
        with self.db.tx() as conn:
            try:
                with conn.begin_nested():
                    result = conn.execute(messages.insert().values(**values))
            except sa.exc.IntegrityError:
                if gateway_message_id is None:
                    raise
                row = conn.execute(
                    sa.select(messages).where(messages.c.gateway_message_id == gateway_message_id)
                ).first()
                if row is None:
                    raise
                raise DuplicateMessage(StoredMessage.from_row(row)) from None
            conn.execute(
                producers.update()
                .where(producers.c.id == producer_id)
                .values(last_inbound_at=now, updated_at=now)
            )
            return _stored(int(result.inserted_primary_key[0]), values)

    def record_reply(
        self,
        inbound_id: int,
        text: str,
        *,
        status: str,
        producer_id: int | None = None,
        role: str | None = None,
        model_output: dict[str, Any] | None = None,
        latency_ms: int | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        now: dt.datetime | None = None,
    ) -> StoredMessage:
        """Store our reply to ``inbound_id`` and set the inbound message's status, atomically.

        ``status`` is the inbound message's new status: ``answered``, ``failed``, or
        ``received`` for a holding reply ("te respondo en breve") whose real answer comes later.
        """
        if status not in tuple(MessageStatus):
            raise ValueError(f"unknown inbound status {status!r}")
        now = now or utcnow()
        with self.db.tx() as conn:
            if producer_id is None:
                producer_id = conn.execute(
                    sa.select(messages.c.producer_id).where(messages.c.id == inbound_id)
                ).scalar_one()
            values: dict[str, Any] = {
                "producer_id": producer_id,
                "direction": OUTBOUND,
                "text": text,
                "gateway_message_id": None,
                "reply_to_id": inbound_id,
                "role": role,
                "model_output": (
                    json.dumps(model_output, ensure_ascii=False)
                    if model_output is not None
                    else None
                ),
                "latency_ms": latency_ms,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "status": MessageStatus.ANSWERED,
                "created_at": now,
            }
            result = conn.execute(messages.insert().values(**values))
            conn.execute(messages.update().where(messages.c.id == inbound_id).values(status=status))
            return _stored(int(result.inserted_primary_key[0]), values)

    def latest_reply(self, inbound_id: int) -> StoredMessage | None:
        """The last reply stored for an inbound message (a holding reply is followed by the
        real answer)."""
        with self.db.tx() as conn:
            row = conn.execute(
                sa.select(messages)
                .where(messages.c.reply_to_id == inbound_id, messages.c.direction == OUTBOUND)
                .order_by(messages.c.id.desc())
                .limit(1)
            ).first()
            return StoredMessage.from_row(row) if row is not None else None

    def history(self, producer_id: int, *, limit: int) -> History:
        """The last ``limit`` messages, oldest first, and the producer's total message count."""
        with self.db.tx() as conn:
            total = conn.execute(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(messages.c.producer_id == producer_id)
            ).scalar()
            rows = conn.execute(
                sa.select(messages)
                .where(messages.c.producer_id == producer_id)
                .order_by(messages.c.id.desc())
                .limit(limit)
            ).all()
            return History(
                total=int(total or 0),
                messages=[StoredMessage.from_row(r) for r in reversed(rows)],
            )

    def unanswered(self, producer_id: int, *, since: dt.datetime) -> list[StoredMessage]:
        """Inbound messages still ``received`` (accepted, not answered), oldest first."""
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(messages)
                .where(
                    messages.c.producer_id == producer_id,
                    messages.c.direction == INBOUND,
                    messages.c.status == MessageStatus.RECEIVED,
                    messages.c.created_at >= since,
                )
                .order_by(messages.c.id)
            ).all()
            return [StoredMessage.from_row(r) for r in rows]

    def expire_unanswered(self, producer_id: int, *, before: dt.datetime) -> int:
        """Mark ``received`` messages older than ``before`` failed: too old to answer now."""
        with self.db.tx() as conn:
            result = conn.execute(
                messages.update()
                .where(
                    messages.c.producer_id == producer_id,
                    messages.c.direction == INBOUND,
                    messages.c.status == MessageStatus.RECEIVED,
                    messages.c.created_at < before,
                )
                .values(status=MessageStatus.FAILED)
            )
            return int(result.rowcount or 0)

    def counts(self) -> dict[str, int]:
        """Inbound messages per status, for snapshots and /metrics."""
        return self.db.count_by(messages.c.status, messages.c.direction == INBOUND)

    def traffic(self, since: dt.datetime) -> Traffic:
        m = messages.c
        by_direction = self.db.count_by(m.direction, m.created_at >= since)
        inbound = self.db.count_by(m.status, m.created_at >= since, m.direction == INBOUND)
        return Traffic(
            inbound=by_direction.get(INBOUND, 0),
            outbound=by_direction.get(OUTBOUND, 0),
            failed=inbound.get(MessageStatus.FAILED, 0),
        )
