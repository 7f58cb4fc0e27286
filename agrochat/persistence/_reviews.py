"""Answers to review: the assistant's replies an agronomist should look at, and what they decided.

Why a reply is in the queue is read from the conversation as it stands, never copied:

- it had no vetted answer (``estado.respondida`` false in a reply to a question: the entry ids
  it quotes, ``estado.conocimiento``, are then empty), and it is the last reply to that message
  (a holding reply followed by the real answer is not "did not know");
- the producer reacted 👎 to it (any skin tone);
- the producer asked another question right after it (see ``ASKED_AGAIN_WITHIN``);
- an admin flagged it from the conversation.

The ``reviews`` row holds only people's decisions: the flag, and whether the reply was found
fine, answered correctly by hand, or turned into a knowledge entry. A handled reply leaves the
queue for good, whatever happens to it later, until an admin flags it again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._schema import form_fields, messages, producers, reactions, reviews

# "Right after": the producer's next question came this soon after our reply. Ten minutes is
# long enough to read an answer and write back, short enough that a new question the next day
# (a new topic, most likely) does not count. A constant, not a setting: it defines the queue.
ASKED_AGAIN_WITHIN = dt.timedelta(minutes=10)

# Replies that answer (or fail to answer) a question; greetings, registration questions and
# off-topic refusals are not advice to review.
_ANSWER_ROLES = ("consulta", "alerta")
_THUMBS_DOWN = "\N{THUMBS DOWN SIGN}"


class ReviewReason(StrEnum):
    NO_ANSWER = "sin_respuesta"
    THUMBS_DOWN = "pulgar_abajo"
    ASKED_AGAIN = "volvio_a_preguntar"
    FLAGGED = "marcada"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    FINE = "fine"  # an agronomist looked: the reply was right
    ANSWERED = "answered"  # the correct answer was sent to the producer by hand
    ENTRY = "entry"  # the question became a knowledge entry


@dataclass(frozen=True)
class ReviewItem:
    """One of the assistant's replies, with the question it answered and why it needs a look."""

    reply_id: int
    reply_text: str
    replied_at: dt.datetime
    question_id: int
    question: str
    producer_id: int
    producer_name: str | None
    phone: str
    crop: str | None
    reasons: tuple[ReviewReason, ...]
    status: ReviewStatus
    flagged_by: str | None
    answer: str | None = None  # the correct answer an admin sent, once they did


class ReviewStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the queue ------------------------------------------------------------------------

    def pending(self, *, limit: int = 25, offset: int = 0) -> tuple[list[ReviewItem], int]:
        """A page of the replies waiting for a look, oldest first, and how many there are."""
        query, reasons = self._items()
        waiting = sa.and_(
            sa.or_(reviews.c.status.is_(None), reviews.c.status == ReviewStatus.PENDING),
            sa.or_(*reasons),
        )
        with self.db.tx() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(query.where(waiting).subquery())
            ).scalar()
            rows = conn.execute(
                query.where(waiting)
                .order_by(messages.c.created_at, messages.c.id)
                .limit(limit)
                .offset(offset)
            ).all()
        return [_item(r) for r in rows], int(total or 0)

    def get(self, reply_id: int) -> ReviewItem | None:
        """The assistant's reply ``reply_id`` as a review item, queued or not; None for any
        other message (a producer's, an admin's) or none."""
        query, _ = self._items()
        with self.db.tx() as conn:
            row = conn.execute(query.where(messages.c.id == reply_id)).first()
        return _item(row) if row is not None else None

    # -- decisions ------------------------------------------------------------------------

    def flag(self, reply_id: int, *, by: str, now: dt.datetime | None = None) -> bool:
        """An admin asks for a look at this reply (again, if it was handled). False when it
        is not one of the assistant's replies."""
        return self._set(
            reply_id,
            {
                "status": ReviewStatus.PENDING,
                "flagged_by": by[:64],
                "flagged_at": now or utcnow(),
                "handled_by": None,
                "handled_at": None,
            },
        )

    def handle(
        self,
        reply_id: int,
        status: ReviewStatus,
        *,
        by: str,
        answer_id: int | None = None,
        knowledge_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """How the reply was dealt with: it leaves the queue. False when it is not one of the
        assistant's replies. An answer sent earlier stays recorded when the question then
        becomes an entry too."""
        if status is ReviewStatus.PENDING:
            raise ValueError("handling a reply needs an outcome, not 'pending'")
        values: dict[str, Any] = {
            "status": status,
            "handled_by": by[:64],
            "handled_at": now or utcnow(),
        }
        if answer_id is not None:
            values["answer_id"] = answer_id
        if knowledge_id is not None:
            values["knowledge_id"] = knowledge_id
        return self._set(reply_id, values)

    def _set(self, reply_id: int, values: dict[str, Any]) -> bool:
        with self.db.tx() as conn:
            ours = conn.execute(
                sa.select(messages.c.id).where(messages.c.id == reply_id, _assistant_reply())
            ).first()
            if ours is None:
                return False
            updated = conn.execute(
                reviews.update().where(reviews.c.message_id == reply_id).values(**values)
            ).rowcount
            if not updated:
                try:
                    # A savepoint: two admins deciding at once both end with one row.
                    with conn.begin_nested():
                        conn.execute(reviews.insert().values(message_id=reply_id, **values))
                except sa.exc.IntegrityError:
                    conn.execute(
                        reviews.update().where(reviews.c.message_id == reply_id).values(**values)
                    )
            return True

    # -- the query ------------------------------------------------------------------------

    def _items(self) -> tuple[sa.Select[Any], list[sa.ColumnElement[bool]]]:
        """Every assistant reply with its question, producer and review row, and the reasons
        as boolean expressions (columns of the select, and conditions for the queue)."""
        reply = messages
        question = messages.alias("question")
        later = messages.alias("later")
        nxt = messages.alias("next_in")
        nxt_reply = messages.alias("next_reply")
        answer = messages.alias("answer")

        superseded = sa.exists().where(
            later.c.reply_to_id == reply.c.reply_to_id,
            later.c.direction == "out",
            later.c.id > reply.c.id,
        )
        no_answer = sa.and_(
            reply.c.role.in_(_ANSWER_ROLES),
            self._json_text(reply.c.model_output, "estado", "respondida") == "false",
            # Asked for a person: that is the takeover's business, not a gap in the advice.
            self._json_text(reply.c.model_output, "acciones", "escalar_a_humano") == "false",
            ~superseded,
        )
        thumbs_down = sa.exists().where(
            reactions.c.message_id == reply.c.id,
            reactions.c.emoji.startswith(_THUMBS_DOWN),
        )
        asked_again = sa.and_(
            reply.c.role.in_(_ANSWER_ROLES),
            sa.exists().where(
                nxt.c.producer_id == reply.c.producer_id,
                nxt.c.direction == "in",
                nxt.c.id > reply.c.id,
                nxt.c.created_at >= reply.c.created_at,
                self._within(nxt.c.created_at, reply.c.created_at, ASKED_AGAIN_WITHIN),
                # A question, as the assistant read it: "gracias" or a profile value is not
                # asking again.
                sa.exists().where(
                    nxt_reply.c.reply_to_id == nxt.c.id,
                    nxt_reply.c.direction == "out",
                    nxt_reply.c.role.in_(_ANSWER_ROLES),
                ),
            ),
        )
        flagged = sa.and_(reviews.c.flagged_at.is_not(None), reviews.c.status == "pending")
        reasons = [no_answer, thumbs_down, asked_again, flagged]
        crop = (
            sa.select(form_fields.c.value)
            .where(
                form_fields.c.producer_id == producers.c.id,
                form_fields.c.form == "perfil",
                form_fields.c.field == "cultivo",
            )
            .limit(1)
            .scalar_subquery()
        )
        query = (
            sa.select(
                reply.c.id.label("reply_id"),
                reply.c.text.label("reply_text"),
                reply.c.created_at.label("replied_at"),
                question.c.id.label("question_id"),
                question.c.text.label("question"),
                producers.c.id.label("producer_id"),
                producers.c.name.label("producer_name"),
                producers.c.phone,
                crop.label("crop"),
                reviews.c.status,
                reviews.c.flagged_by,
                answer.c.text.label("answer"),
                *(
                    sa.case((condition, 1), else_=0).label(reason.value)
                    for reason, condition in zip(ReviewReason, reasons, strict=True)
                ),
            )
            .select_from(reply)
            .join(question, question.c.id == reply.c.reply_to_id)
            .join(producers, producers.c.id == reply.c.producer_id)
            .outerjoin(reviews, reviews.c.message_id == reply.c.id)
            .outerjoin(answer, answer.c.id == reviews.c.answer_id)
            .where(_assistant_reply())
        )
        return query, reasons

    def _json_text(self, column: sa.ColumnElement[Any], *path: str) -> sa.ColumnElement[Any]:
        """A value inside a JSON text column as text ('true', 'false', ...), on both databases."""
        if self.db.is_postgres:
            return sa.func.jsonb_extract_path_text(sa.cast(column, postgresql.JSONB), *path)
        # SQLite's json_type names a boolean by its value: 'true' or 'false'.
        return sa.func.json_type(column, "$." + ".".join(path))

    def _within(
        self, later: sa.ColumnElement[Any], earlier: sa.ColumnElement[Any], span: dt.timedelta
    ) -> sa.ColumnElement[bool]:
        if self.db.is_postgres:
            return later <= earlier + sa.literal(span, sa.Interval())
        # SQLite stores times as text: compare them as Julian days (fractions of a day).
        seconds = (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400
        return seconds <= span.total_seconds()


def _assistant_reply() -> sa.ColumnElement[bool]:
    """One of the assistant's replies: ours, to a producer's message, not written by an admin."""
    return sa.and_(
        messages.c.direction == "out",
        messages.c.author.is_(None),
        messages.c.reply_to_id.is_not(None),
    )


def _item(row: Any) -> ReviewItem:
    m = row._mapping
    return ReviewItem(
        reply_id=int(m["reply_id"]),
        reply_text=m["reply_text"],
        replied_at=m["replied_at"],
        question_id=int(m["question_id"]),
        question=m["question"],
        producer_id=int(m["producer_id"]),
        producer_name=m["producer_name"],
        phone=m["phone"],
        crop=m["crop"],
        reasons=tuple(r for r in ReviewReason if m[r.value]),
        status=ReviewStatus(m["status"] or ReviewStatus.PENDING),
        flagged_by=m["flagged_by"],
        answer=m["answer"],
    )
