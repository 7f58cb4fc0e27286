"""The dashboard's trends: the per-day series the stores give, as charts with their numbers.

Each chart comes with the same numbers as table rows (the template shows them under the chart),
so what the SVG shows is also there as text for screen readers and for copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agrochat.errors import BadRequest
from agrochat.http import _charts
from agrochat.http._charts import AMBER, BLUE, GREEN, RED, Series
from agrochat.persistence import AlertStore, Database, Days, MessageStore, ProducerStore

RANGES = (14, 30, 90)
DEFAULT_RANGE = RANGES[0]


@dataclass(frozen=True)
class Chart:
    title: str
    note: str
    svg: str
    columns: tuple[str, ...]  # after the day's
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (day, cells), oldest first


def range_param(raw: str) -> int:
    """``?dias=``: one of RANGES (the default when absent); anything else is a 400."""
    if not raw:
        return DEFAULT_RANGE
    if raw.isascii() and raw.isdigit() and int(raw) in RANGES:
        return int(raw)
    choices = ", ".join(str(r) for r in RANGES)
    raise BadRequest(f"El periodo de las gráficas es de {choices} días.")


def charts(db: Database, days: Days) -> list[Chart]:
    labels = [d.strftime("%d/%m") for d in days.dates]
    messages, producers = MessageStore(db), ProducerStore(db)
    return [
        _traffic(labels, messages.daily_traffic(days)),
        _outcomes(labels, messages.daily_outcomes(days)),
        _alerts(labels, AlertStore(db).daily_deliveries(days)),
        _producers(labels, producers.daily_new(days), producers.daily_active(days)),
        _latency(labels, messages.daily_latency(days)),
    ]


def _count(value: float | None) -> str:
    return "—" if value is None else str(int(value))


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def _table(
    labels: Sequence[str], series: Sequence[Sequence[str]]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((label, tuple(column[i] for column in series)) for i, label in enumerate(labels))


def _simple(
    title: str, note: str, labels: Sequence[str], series: Sequence[Series], svg: str
) -> Chart:
    return Chart(
        title=title,
        note=note,
        svg=svg,
        columns=tuple(s.name for s in series),
        rows=_table(labels, [[_count(v) for v in s.values] for s in series]),
    )


def _traffic(labels: Sequence[str], counts: dict[str, list[int]]) -> Chart:
    series = [
        Series("Recibidos", counts["in"], GREEN),
        Series("Enviados", counts["out"], BLUE),
    ]
    title = "Mensajes por día"
    return _simple(
        title,
        "De los productores y nuestros (respuestas, alertas y mensajes del equipo).",
        labels,
        series,
        _charts.bars(title, labels, series),
    )


def _outcomes(labels: Sequence[str], counts: dict[str, list[int]]) -> Chart:
    names = (
        ("vetted", "Con consejo verificado", GREEN),
        ("unanswered", "Sin respuesta", AMBER),
        ("escalated", "Escaladas", RED),
    )
    totals = [sum(day) for day in zip(*(counts[key] for key, _, _ in names), strict=True)]

    def share(value: int, total: int) -> float:
        return 100 * value / total if total else 0.0

    series = [
        Series(name, [share(v, t) for v, t in zip(counts[key], totals, strict=True)], color)
        for key, name, color in names
    ]
    title = "Respuestas a preguntas"
    cells = [
        [
            f"{v} ({round(share(v, t))} %)" if t else "—"
            for v, t in zip(counts[key], totals, strict=True)
        ]
        for key, _, _ in names
    ]
    return Chart(
        title=title,
        note="Parte de las preguntas de cada día: respondidas con un consejo verificado, "
        "sin respuesta, o pasadas a una persona.",
        svg=_charts.bars(title, labels, series, stacked=True, maximum=100, unit=" %"),
        columns=(*(name for _, name, _ in names), "Preguntas"),
        rows=_table(labels, [*cells, [str(t) for t in totals]]),
    )


def _alerts(labels: Sequence[str], counts: dict[str, list[int]]) -> Chart:
    series = [
        Series("Enviadas", counts["sent"], GREEN),
        Series("Fallidas", counts["failed"], RED),
        Series("En espera", counts["waiting"], AMBER),
    ]
    title = "Alertas"
    return _simple(
        title,
        "Enviadas el día que salieron; fallidas (o vencidas) y en espera, el día que tocaban.",
        labels,
        series,
        _charts.bars(title, labels, series, stacked=True),
    )


def _producers(labels: Sequence[str], new: list[int], active: list[int]) -> Chart:
    series = [Series("Nuevos", new, BLUE), Series("Activos", active, GREEN)]
    title = "Productores"
    return _simple(
        title,
        "Nuevos: escribieron (o se registraron) por primera vez. Activos: escribieron ese día.",
        labels,
        series,
        _charts.bars(title, labels, series),
    )


def _latency(labels: Sequence[str], latency: dict[str, list[float | None]]) -> Chart:
    series = [
        Series("Mediana (p50)", latency["p50"], GREEN),
        Series("p95", latency["p95"], AMBER),
    ]
    title = "Tiempo de respuesta"
    return Chart(
        title=title,
        note="Segundos desde que llega un mensaje hasta la primera respuesta del asistente.",
        svg=_charts.lines(title, labels, series, unit=" s"),
        columns=tuple(s.name for s in series),
        rows=_table(labels, [[_seconds(v) for v in s.values] for s in series]),
    )
