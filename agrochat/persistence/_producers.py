"""Producers and their form fields.

A producer is keyed by the canonical phone (digits only, see ``agrochat.phones``). Form values are
stored as text, already validated and normalised by the form's validators
(``agrochat.actors.session``); this store never judges a value, it only keeps it.

Writes for one producer come from that producer's SessionActor (one at a time), so the
read-then-write upserts below do not race each other; a concurrent creation of the same phone
(an admin and a session at once) is still resolved by the unique phone index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from agrochat.persistence._database import Database, utcnow
from agrochat.persistence._days import Days, count_per_day
from agrochat.persistence._schema import form_fields, messages, producers

DEFAULT_FORM = "perfil"
# The profile fields a segment (POST /alert, the panel) may select producers by.
SEGMENT_FIELDS = ("cultivo", "distrito")
# Rows per query when a whole table is read out (the exports).
EXPORT_BATCH = 500


@dataclass(frozen=True)
class ProducerSummary:
    """A producer as the panel's list shows it: with the crop and district of their profile."""

    id: int
    phone: str
    name: str | None
    status: str
    needs_human: bool
    cultivo: str | None
    distrito: str | None
    last_inbound_at: dt.datetime | None
    created_at: dt.datetime


def _profile_value(name: str) -> sa.ScalarSelect[Any]:
    f = form_fields.c
    return (
        sa.select(f.value)
        .where(f.producer_id == producers.c.id, f.form == DEFAULT_FORM, f.field == name)
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class Producer:
    id: int
    phone: str
    name: str | None
    status: str  # nuevo | activo | inactivo
    needs_human: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    last_inbound_at: dt.datetime | None
    channel: str | None = None  # the number they write to (None: the first configured)
    taken_over: bool = False  # an admin answers; the assistant is quiet
    taken_over_by: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Producer:
        m = row._mapping
        return cls(
            id=int(m["id"]),
            phone=m["phone"],
            name=m["name"],
            status=m["status"],
            needs_human=bool(m["needs_human"]),
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            last_inbound_at=m["last_inbound_at"],
            channel=m["channel"],
            taken_over=bool(m["taken_over"]),
            taken_over_by=m["taken_over_by"],
        )


class ProducerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, phone: str) -> Producer | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(producers).where(producers.c.phone == phone)).first()
            return Producer.from_row(row) if row is not None else None

    def get_by_id(self, producer_id: int) -> Producer | None:
        with self.db.tx() as conn:
            row = conn.execute(sa.select(producers).where(producers.c.id == producer_id)).first()
            return Producer.from_row(row) if row is not None else None

    def get_or_create(self, phone: str, *, now: dt.datetime | None = None) -> tuple[Producer, bool]:
        """The producer for ``phone`` (canonical digits), created with status "nuevo" if unknown.

        Returns ``(producer, created)``.
        """
        now = now or utcnow()
        with self.db.tx() as conn:
            row = conn.execute(sa.select(producers).where(producers.c.phone == phone)).first()
            if row is not None:
                return Producer.from_row(row), False
            try:
                # A savepoint: on PostgreSQL a failed INSERT would otherwise poison the whole
                # transaction, and the re-select below must still run.
                with conn.begin_nested():
                    conn.execute(
                        producers.insert().values(
                            phone=phone,
                            status="nuevo",
                            needs_human=False,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                created = True
            except sa.exc.IntegrityError:
                created = False
            row = conn.execute(sa.select(producers).where(producers.c.phone == phone)).one()
            return Producer.from_row(row), created

    def update(self, producer_id: int, *, now: dt.datetime | None = None, **values: Any) -> None:
        """Set some of name, status, needs_human, last_inbound_at, channel, taken_over(_by)."""
        allowed = {
            "name",
            "status",
            "needs_human",
            "last_inbound_at",
            "channel",
            "taken_over",
            "taken_over_by",
        }
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"not producer columns this store sets: {sorted(unknown)}")
        with self.db.tx() as conn:
            conn.execute(
                producers.update()
                .where(producers.c.id == producer_id)
                .values(updated_at=now or utcnow(), **values)
            )

    def fields(self, producer_id: int, form: str = DEFAULT_FORM) -> dict[str, str]:
        """The stored values of one form, by field name."""
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(form_fields.c.field, form_fields.c.value).where(
                    form_fields.c.producer_id == producer_id, form_fields.c.form == form
                )
            ).all()
            return {field: value for field, value in rows}

    def set_fields(
        self,
        producer_id: int,
        values: Mapping[str, str],
        *,
        source: str,
        form: str = DEFAULT_FORM,
        now: dt.datetime | None = None,
    ) -> None:
        """Store validated values, all in one transaction (all or nothing)."""
        if not values:
            return
        now = now or utcnow()
        t = form_fields.c
        with self.db.tx() as conn:
            for field, value in values.items():
                updated = conn.execute(
                    form_fields.update()
                    .where(t.producer_id == producer_id, t.form == form, t.field == field)
                    .values(value=value, source=source, updated_at=now)
                )
                if updated.rowcount == 0:
                    conn.execute(
                        form_fields.insert().values(
                            producer_id=producer_id,
                            form=form,
                            field=field,
                            value=value,
                            source=source,
                            updated_at=now,
                        )
                    )
            conn.execute(
                producers.update().where(producers.c.id == producer_id).values(updated_at=now)
            )

    # -- many producers ------------------------------------------------------------------

    def count(self) -> int:
        with self.db.tx() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(producers)).scalar())

    def counts(self) -> dict[str, int]:
        """Producers per status."""
        return self.db.count_by(producers.c.status)

    def names(self, producer_ids: Iterable[int]) -> dict[int, str | None]:
        """Names for a page of rows about producers (one query, not one per row)."""
        return self._by_id(producers.c.name, producer_ids)

    def last_inbound(self, producer_ids: Iterable[int]) -> dict[int, dt.datetime | None]:
        """When each producer last wrote to us (WhatsApp's 24-hour window starts there)."""
        return self._by_id(producers.c.last_inbound_at, producer_ids)

    def _by_id(self, column: sa.Column[Any], producer_ids: Iterable[int]) -> dict[int, Any]:
        ids = list(set(producer_ids))
        if not ids:
            return {}
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(producers.c.id, column).where(producers.c.id.in_(ids))
            ).all()
        return {int(pid): value for pid, value in rows}

    def search(
        self,
        *,
        query: str = "",
        crop: str | None = None,
        status: str | None = None,
        needs_human: bool = False,
        limit: int = 25,
        offset: int = 0,
    ) -> tuple[list[ProducerSummary], int]:
        """Producers matching ``query`` (part of the phone, the name, the crop or the district),
        those waiting for a person first, then by latest activity; and how many match in all.
        ``crop``: the crop's canonical form when the query names one ("maiz" finds "maíz")."""
        p = producers.c
        conditions: list[sa.ColumnElement[bool]] = []
        query = query.strip()
        if query:
            digits = "".join(ch for ch in query if ch.isdigit())
            matches = [
                p.name.icontains(query, autoescape=True),
                _profile_value("cultivo").icontains(query, autoescape=True),
                _profile_value("distrito").icontains(query, autoescape=True),
            ]
            if digits and len(digits) >= 3:
                matches.append(p.phone.contains(digits, autoescape=True))
            if crop:
                matches.append(sa.func.lower(_profile_value("cultivo")) == crop.lower())
            conditions.append(sa.or_(*matches))
        if status:
            conditions.append(p.status == status)
        if needs_human:
            conditions.append(p.needs_human == sa.true())
        with self.db.tx() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(producers).where(*conditions)
            ).scalar()
            rows = conn.execute(
                sa.select(
                    p.id,
                    p.phone,
                    p.name,
                    p.status,
                    p.needs_human,
                    p.last_inbound_at,
                    p.created_at,
                    _profile_value("cultivo").label("cultivo"),
                    _profile_value("distrito").label("distrito"),
                )
                .where(*conditions)
                .order_by(
                    p.needs_human.desc(),
                    sa.func.coalesce(p.last_inbound_at, p.created_at).desc(),
                    p.id.desc(),
                )
                .limit(limit)
                .offset(offset)
            ).all()
        summaries = [
            ProducerSummary(**{**r._mapping, "id": int(r.id), "needs_human": bool(r.needs_human)})
            for r in rows
        ]
        return summaries, int(total or 0)

    def in_segment(self, segment: Mapping[str, str] | None) -> list[tuple[int, str]]:
        """(id, phone) of the active producers whose profile matches every field of ``segment``
        (case and surrounding spaces ignored), by id; ``None`` selects every active producer."""
        query = sa.select(producers.c.id, producers.c.phone).where(producers.c.status != "inactivo")
        for field, value in (segment or {}).items():
            if field not in SEGMENT_FIELDS:
                raise ValueError(f"cannot select producers by {field!r}")
            matching = sa.select(form_fields.c.producer_id).where(
                form_fields.c.form == DEFAULT_FORM,
                form_fields.c.field == field,
                sa.func.lower(sa.func.trim(form_fields.c.value)) == value.strip().lower(),
            )
            query = query.where(producers.c.id.in_(matching.scalar_subquery()))
        with self.db.tx() as conn:
            return [
                (int(pid), phone) for pid, phone in conn.execute(query.order_by(producers.c.id))
            ]

    def profiles(self, fields: Sequence[str]) -> dict[int, tuple[str, dict[str, str]]]:
        """Active producers' profile values for ``fields``: id -> (phone, {field: value})."""
        with self.db.tx() as conn:
            rows = conn.execute(
                sa.select(
                    producers.c.id, producers.c.phone, form_fields.c.field, form_fields.c.value
                )
                .join(form_fields, form_fields.c.producer_id == producers.c.id)
                .where(
                    producers.c.status != "inactivo",
                    form_fields.c.form == DEFAULT_FORM,
                    form_fields.c.field.in_(list(fields)),
                )
                .order_by(producers.c.id)
            ).all()
        result: dict[int, tuple[str, dict[str, str]]] = {}
        for pid, phone, field, value in rows:
            result.setdefault(int(pid), (phone, {}))[1][field] = value
        return result

    # -- exports -------------------------------------------------------------------------

    def profile_batches(
        self, *, status: str | None = None, size: int = EXPORT_BATCH, form: str = DEFAULT_FORM
    ) -> Iterator[list[tuple[Producer, dict[str, str]]]]:
        """Every producer (of ``status``, when given) with their form's values, by id, ``size``
        at a time: an export reads a batch, writes it out, then reads the next.

        Keyset pagination (``id > last``), not OFFSET: each batch is one index range whatever
        its position, and a producer created meanwhile neither shifts nor repeats rows. Each
        batch is its own short transaction, so no connection is held while the rows are sent.
        """
        last = 0
        while True:
            query = sa.select(producers).where(producers.c.id > last)
            if status is not None:
                query = query.where(producers.c.status == status)
            with self.db.tx() as conn:
                rows = conn.execute(query.order_by(producers.c.id).limit(size)).all()
                if not rows:
                    return
                ids = [int(r.id) for r in rows]
                values: dict[int, dict[str, str]] = {pid: {} for pid in ids}
                fields = conn.execute(
                    sa.select(
                        form_fields.c.producer_id, form_fields.c.field, form_fields.c.value
                    ).where(form_fields.c.producer_id.in_(ids), form_fields.c.form == form)
                ).all()
            for pid, field, value in fields:
                values[int(pid)][field] = value
            yield [(Producer.from_row(r), values[int(r.id)]) for r in rows]
            if len(rows) < size:
                return
            last = ids[-1]

    # -- per day, for the panel's charts -------------------------------------------------------

    def daily_new(self, days: Days) -> list[int]:
        """Producers who first wrote (or were added) on each of ``days``."""
        with self.db.tx() as conn:
            return count_per_day(conn, days, producers.c.created_at).get(None, days.zeros())

    def daily_active(self, days: Days) -> list[int]:
        """Producers who wrote at least one message on each of ``days``."""
        m = messages.c
        with self.db.tx() as conn:
            counts = count_per_day(
                conn, days, m.created_at, m.direction == "in", distinct=m.producer_id
            )
        return counts.get(None, days.zeros())
