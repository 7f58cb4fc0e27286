"""Whole days in the producers' time zone, for the panel's per-day series.

Times are stored as naive UTC (see ``_schema``) and a local day is not a fixed offset from UTC
where the zone has daylight saving, so the day a row belongs to is decided by comparing its time
with each day's start, computed here in Python, rather than by date functions that differ
between SQLite and PostgreSQL. ``index`` turns that into one ``CASE`` expression a query can
group by, the same SQL on both databases.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class Days:
    """``dates`` in a zone, oldest first, and ``bounds``: the naive-UTC start of each, then the
    end of the last (one more bound than dates)."""

    dates: tuple[dt.date, ...]
    bounds: tuple[dt.datetime, ...]

    @classmethod
    def ending(cls, today: dt.date, count: int, zone: zoneinfo.ZoneInfo) -> Days:
        """The ``count`` days up to and including ``today``."""
        if count < 1:
            raise ValueError(f"need at least one day, got {count}")
        dates = tuple(today - dt.timedelta(days=count - 1 - i) for i in range(count))
        ends = (*dates, today + dt.timedelta(days=1))
        bounds = tuple(
            dt.datetime.combine(d, dt.time(), tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)
            for d in ends
        )
        return cls(dates=dates, bounds=bounds)

    def __len__(self) -> int:
        return len(self.dates)

    def covers(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        return sa.and_(column >= self.bounds[0], column < self.bounds[-1])

    def index(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
        """The 0-based day of ``column`` (meaningful where ``covers`` holds)."""
        whens = [(column < bound, i) for i, bound in enumerate(self.bounds[1:-1])]
        last = len(self.dates) - 1
        if not whens:
            return sa.literal(0, sa.Integer)
        return sa.case(*whens, else_=last)

    def of(self, moment: dt.datetime) -> int | None:
        """The day ``moment`` (naive UTC) falls in, or None outside these days."""
        if not self.bounds[0] <= moment < self.bounds[-1]:
            return None
        return bisect.bisect_right(self.bounds, moment) - 1

    def zeros(self) -> list[int]:
        return [0] * len(self.dates)


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (the smallest value with at least ``p``% at or below it);
    None without values. Nearest-rank always names a value that occurred, which is what a
    reply latency shown to an admin should be."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def count_per_day(
    conn: sa.Connection,
    days: Days,
    when: sa.ColumnElement[Any],
    *where: sa.ColumnElement[bool],
    key: sa.ColumnElement[Any] | None = None,
    distinct: sa.ColumnElement[Any] | None = None,
) -> dict[Any, list[int]]:
    """Rows (matching ``where``) per day of ``when``, split by ``key``'s value (None: one series
    under the key None); with ``distinct``, how many different values of it instead of rows.

    One query grouped by day: the day is computed in a subquery and grouped by its column, so
    PostgreSQL never has to match the ``CASE`` (with its parameters) of the SELECT to the one
    of the GROUP BY.
    """
    columns: list[sa.ColumnElement[Any]] = [days.index(when).label("day")]
    if key is not None:
        columns.append(key.label("key"))
    if distinct is not None:
        columns.append(distinct.label("counted"))
    rows = sa.select(*columns).where(days.covers(when), *where).subquery()
    group = [rows.c.day, *([rows.c.key] if key is not None else [])]
    counted = (
        sa.func.count(sa.distinct(rows.c.counted)) if distinct is not None else sa.func.count()
    )
    series: dict[Any, list[int]] = {}
    for row in conn.execute(sa.select(*group, counted).group_by(*group)):
        values = series.setdefault(row[1] if key is not None else None, days.zeros())
        values[int(row[0])] += int(row[-1])
    return series
