"""Conversation history: every message in (from a producer) and out (our reply), in order.

An inbound message goes through ``received`` → ``answered`` | ``failed``. ``received`` also means
"accepted but not answered yet" (the model was overloaded, or the process stopped mid-reply):
such a message is answered later, never dropped. A reply is stored in the same transaction that
marks its inbound message answered or failed, so history never shows one without the other.

``gateway_message_id`` is unique per producer: the same gateway event delivered twice is stored
once, and the second delivery finds the first message (and its reply) instead of asking the model
again. An id is only ever looked up together with its producer: ``/agent`` takes it from the
caller, and another producer's id must find nothing of theirs (issue 12, item 7).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._days import Days, count_per_day, percentile
from agrochat.persistence._producers import EXPORT_BATCH
from agrochat.persistence._schema import messages, outbox, producers, reactions

INBOUND = "in"
OUTBOUND = "out"
# The gateways' words for a voice message: WhatsApp's push-to-talk note (WAHA "ptt") and an
# audio file (WAHA "audio", the Cloud API's "audio", which covers voice notes too).
VOICE_TYPES = frozenset({"ptt", "audio"})


class MessageStatus(StrEnum):
    """An inbound message's lifecycle (above); a reply is stored ``answered``."""

    RECEIVED = "received"
    ANSWERED = "answered"
    FAILED = "failed"
    # Arrived while an admin had the conversation: theirs to answer, not the assistant's.
    HELD = "held"


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
    media_type: str | None = None
    author: str | None = None  # an outbound message written by an admin ("admin:maria")
    # A voice note: where the gateway keeps its audio, its type, and once heard, how sure the
    # transcriber was of ``text`` (None until then, and for everything else).
    media_source: str | None = None
    media_mimetype: str | None = None
    transcript_confidence: float | None = None

    @property
    def is_voice(self) -> bool:
        return self.media_type in VOICE_TYPES

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
            media_type=m["media_type"],
            author=m["author"],
            media_source=m["media_source"],
            media_mimetype=m["media_mimetype"],
            transcript_confidence=m["transcript_confidence"],
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
        media_type=values.get("media_type"),
        author=values.get("author"),
        media_source=values.get("media_source"),
        media_mimetype=values.get("media_mimetype"),
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

    def by_gateway_id(self, producer_id: int, gateway_message_id: str) -> StoredMessage | None:
        """This producer's message with this gateway id (another producer's never)."""
        with self.db.tx() as conn:
            return self._by_gateway_id(conn, producer_id, gateway_message_id)

    @staticmethod
    def _by_gateway_id(
        conn: sa.Connection, producer_id: int, gateway_message_id: str
    ) -> StoredMessage | None:
        row = conn.execute(
            sa.select(messages).where(
                messages.c.producer_id == producer_id,
                messages.c.gateway_message_id == gateway_message_id,
            )
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
        media_type: str | None = None,
        media_source: str | None = None,
        media_mimetype: str | None = None,
        status: MessageStatus = MessageStatus.RECEIVED,
        now: dt.datetime | None = None,
    ) -> StoredMessage:
        """Store a producer's message as ``received``; DuplicateMessage if this producer's
        message with that id is stored already.

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
            "media_type": media_type,
            "media_source": media_source,
            "media_mimetype": media_mimetype,
            "status": status,
            "created_at": now,
        }
        with self.db.tx() as conn:
            try:
                with conn.begin_nested():
                    result = conn.execute(messages.insert().values(**values))
            except sa.exc.IntegrityError:
                if gateway_message_id is None:
                    raise
                existing = self._by_gateway_id(conn, producer_id, gateway_message_id)
                if existing is None:
                    raise
                raise DuplicateMessage(existing) from None
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
        ``received`` for a reply that leaves the message to be answered again later.
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

    def set_transcript(self, message_id: int, text: str, confidence: float) -> None:
        """A voice note heard: its transcript becomes the message's text."""
        with self.db.tx() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == message_id)
                .values(text=text, transcript_confidence=confidence)
            )

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

    def waiting_gateway_messages(
        self,
        *,
        since: dt.datetime,
        before: dt.datetime,
        limit: int = 500,
        channels: Collection[str] | None = None,
        default_channel: str | None = None,
    ) -> list[tuple[str, StoredMessage]]:
        """Gateways' messages still ``received`` and stored between ``since`` and ``before``,
        with their producer's phone, oldest first: what a session should be (re)told about
        after a restart or a lost hand-over. ``channels``: only producers who write to one of
        these numbers (None: all; a producer with no number yet counts as writing to
        ``default_channel``)."""
        where = []
        if channels is not None:
            mine = producers.c.channel.in_(list(channels))
            if default_channel in channels:
                mine = sa.or_(mine, producers.c.channel.is_(None))
            where.append(mine)
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(producers.c.phone, messages)
                .join(producers, producers.c.id == messages.c.producer_id)
                .where(
                    messages.c.direction == INBOUND,
                    messages.c.status == MessageStatus.RECEIVED,
                    messages.c.gateway_message_id.is_not(None),
                    messages.c.created_at >= since,
                    messages.c.created_at < before,
                    *where,
                )
                .order_by(messages.c.id)
                .limit(limit)
            ).all()
            return [(r.phone, StoredMessage.from_row(r)) for r in rows]

    def latest_inbound_at(self, channel: str) -> dt.datetime | None:
        """When the newest message from a producer who writes to ``channel`` was stored: the
        point a catch-up after a restart starts from."""
        with self.db.tx() as conn:
            value = conn.execute(
                sa.select(sa.func.max(messages.c.created_at))
                .join(producers, producers.c.id == messages.c.producer_id)
                .where(
                    producers.c.channel == channel,
                    messages.c.direction == INBOUND,
                    messages.c.gateway_message_id.is_not(None),
                )
            ).scalar()
            return value

    def expire_unanswered(self, producer_id: int, *, before: dt.datetime) -> int:
        """Mark ``received`` messages older than ``before`` failed: too old to answer now."""
        return self._fail_received(producer_id, messages.c.created_at < before)

    def fail_unanswered(self, producer_id: int, *, before_id: int) -> int:
        """Mark this producer's ``received`` messages older than message ``before_id`` failed:
        nobody is left to receive their answer (no gateway of ours)."""
        return self._fail_received(producer_id, messages.c.id < before_id)

    def _fail_received(self, producer_id: int, older: sa.ColumnElement[bool]) -> int:
        with self.db.tx() as conn:
            result = conn.execute(
                messages.update()
                .where(
                    messages.c.producer_id == producer_id,
                    messages.c.direction == INBOUND,
                    messages.c.status == MessageStatus.RECEIVED,
                    older,
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

    def hold(self, message_id: int) -> None:
        """A received message a person on the team is to answer (the conversation is theirs)."""
        with self.db.tx() as conn:
            conn.execute(
                messages.update()
                .where(messages.c.id == message_id, messages.c.status == MessageStatus.RECEIVED)
                .values(status=MessageStatus.HELD)
            )

    def add_outbound(
        self,
        producer_id: int,
        text: str,
        *,
        author: str,
        reply_to_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> StoredMessage:
        """A message a person on the team wrote to the producer (not the assistant's)."""
        now = now or utcnow()
        values: dict[str, Any] = {
            "producer_id": producer_id,
            "direction": OUTBOUND,
            "text": text,
            "reply_to_id": reply_to_id,
            "role": "humano",
            "author": author,
            "status": MessageStatus.ANSWERED,
            "created_at": now,
        }
        with self.db.tx() as conn:
            result = conn.execute(messages.insert().values(**values))
            return _stored(int(result.inserted_primary_key[0]), values)

    def record_reaction(
        self,
        producer_id: int,
        target_gateway_id: str,
        emoji: str,
        *,
        now: dt.datetime | None = None,
    ) -> bool:
        """The producer's reaction to one of our messages (the gateway's id of what we sent);
        a new reaction replaces the last. False when we sent no such message."""
        now = now or utcnow()
        with self.db.tx() as conn:
            # Only a message we sent to this producer: an id names nothing of anyone else's.
            message_id = conn.execute(
                sa.select(outbox.c.reply_to_id)
                .join(producers, producers.c.phone == outbox.c.phone)
                .where(
                    outbox.c.gateway_message_id == target_gateway_id,
                    producers.c.id == producer_id,
                )
                .limit(1)
            ).scalar()
            if message_id is None:
                return False
            updated = conn.execute(
                reactions.update()
                .where(reactions.c.target_gateway_id == target_gateway_id)
                .values(emoji=emoji, updated_at=now)
            ).rowcount
            if not updated:
                conn.execute(
                    reactions.insert().values(
                        producer_id=producer_id,
                        message_id=message_id,
                        emoji=emoji,
                        target_gateway_id=target_gateway_id,
                        updated_at=now,
                    )
                )
            return True

    def reactions_of(self, message_ids: Sequence[int]) -> dict[int, str]:
        """The producer's current reaction to each of these messages of ours, if any."""
        if not message_ids:
            return {}
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(reactions.c.message_id, reactions.c.emoji).where(
                    reactions.c.message_id.in_(list(message_ids)), reactions.c.emoji != ""
                )
            ).all()
            return {int(r.message_id): r.emoji for r in rows}

    def reaction_counts(self, *, since: dt.datetime) -> dict[str, int]:
        """How many of our replies got each reaction since ``since`` (👍 / 👎 and the rest)."""
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(reactions.c.emoji, sa.func.count())
                .where(reactions.c.updated_at >= since, reactions.c.emoji != "")
                .group_by(reactions.c.emoji)
            ).all()
            counts: dict[str, int] = {}
            for emoji, count in rows:
                # "👍🏽" counts as "👍": the skin tone says nothing about the answer.
                base = "".join(c for c in emoji if not 0x1F3FB <= ord(c) <= 0x1F3FF)
                counts[base] = counts.get(base, 0) + int(count)
            return counts

    # -- exports -------------------------------------------------------------------------

    def batches(
        self, producer_id: int, *, size: int = EXPORT_BATCH
    ) -> Iterator[list[StoredMessage]]:
        """A producer's whole conversation, oldest first, ``size`` messages at a time, each
        batch its own short transaction (keyset pagination on the id: see
        ``ProducerStore.profile_batches``)."""
        last = 0
        while True:
            with self.db.tx() as conn:
                rows = conn.execute(
                    sa.select(messages)
                    .where(messages.c.producer_id == producer_id, messages.c.id > last)
                    .order_by(messages.c.id)
                    .limit(size)
                ).all()
            if not rows:
                return
            batch = [StoredMessage.from_row(r) for r in rows]
            yield batch
            if len(batch) < size:
                return
            last = batch[-1].id

    # -- per day, for the panel's charts -------------------------------------------------------

    def daily_traffic(self, days: Days) -> dict[str, list[int]]:
        """Messages in (``"in"``) and out (``"out"``) on each of ``days``."""
        m = messages.c
        with self.db.tx() as conn:
            counts = count_per_day(conn, days, m.created_at, key=m.direction)
        return {d: counts.get(d, days.zeros()) for d in (INBOUND, OUTBOUND)}

    def daily_outcomes(self, days: Days) -> dict[str, list[int]]:
        """The assistant's replies to questions (role ``consulta``) on each of ``days``: from
        vetted advice (``"vetted"``), escalated to a person (``"escalated"``), or neither
        (``"unanswered"``: no vetted entry held the answer, or the model was busy).

        Read from the stored model_output's text, which ``record_reply`` writes with
        ``json.dumps``' default separators: a producer's own words inside it have their quotes
        escaped, so they cannot fake a match.
        """
        m = messages.c
        kind = sa.case(
            (m.model_output.like('%"escalar_a_humano": true%'), "escalated"),
            (m.model_output.like('%"respondida": true%'), "vetted"),
            else_="unanswered",
        )
        with self.db.tx() as conn:
            counts = count_per_day(
                conn,
                days,
                m.created_at,
                m.direction == OUTBOUND,
                m.author.is_(None),
                m.role == "consulta",
                m.model_output.is_not(None),
                key=kind,
            )
        return {k: counts.get(k, days.zeros()) for k in ("vetted", "unanswered", "escalated")}

    def daily_latency(self, days: Days) -> dict[str, list[float | None]]:
        """The assistant's reply latency in seconds (its first reply's ``created_at`` minus the
        message's), 50th and 95th percentile over the messages that arrived on each day; None
        for a day without replies.

        The percentiles are computed here, over one row per replied message: neither SQLite nor
        PostgreSQL's percentile functions exist in the other.
        """
        inbound, reply = messages.alias("inbound"), messages.alias("reply")
        query = (
            sa.select(inbound.c.created_at, sa.func.min(reply.c.created_at))
            .join(reply, reply.c.reply_to_id == inbound.c.id)
            .where(
                inbound.c.direction == INBOUND,
                reply.c.direction == OUTBOUND,
                reply.c.author.is_(None),
                days.covers(inbound.c.created_at),
            )
            .group_by(inbound.c.id, inbound.c.created_at)
        )
        per_day: list[list[float]] = [[] for _ in days.dates]
        with self.db.tx() as conn:
            for received, replied in conn.execute(query):
                day = days.of(received)
                if day is not None and replied is not None:
                    per_day[day].append(max(0.0, (replied - received).total_seconds()))
        return {
            "p50": [percentile(values, 50) for values in per_day],
            "p95": [percentile(values, 95) for values in per_day],
        }
