"""Charts as inline SVG: pure functions from per-day series to an SVG string.

The panel has no JavaScript and its Content-Security-Policy allows no inline styles and nothing
from elsewhere, so a chart is drawn on the server with presentation attributes (``fill``,
``stroke``), never ``style``. The SVG scales to its container (``viewBox`` with ``width="100%"``)
and each mark carries a ``<title>`` (the browser shows it on hover or long press); the numbers
themselves go in a table next to the chart, for screen readers and for copying.

Every text that reaches the SVG is escaped here: callers may pass names and labels as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# A phone shows the chart about 330 px wide: at 400 units its 12-unit text stays legible.
WIDTH = 400
HEIGHT = 220
LEFT, RIGHT, BOTTOM = 40, 6, 22
FONT = 12
LEGEND_ROW = 16
# About this many day labels fit under a chart a phone shows at 350 px.
MAX_X_LABELS = 7
NO_DATA = "sin datos"

# The panel's palette (admin.css): green, blue, amber, red, grey.
GREEN, BLUE, AMBER, RED, GREY = "#2f7d32", "#1565c0", "#a86400", "#b3261e", "#8a948a"
INK, MUTED, LINE = "#1f2a1f", "#667066", "#dfe5dc"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = GREEN


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool = False,
    maximum: float | None = None,
    unit: str = "",
) -> str:
    """One bar per series per day (side by side, or ``stacked``); ``maximum`` fixes the top of
    the scale (100 for percentages), else it is the largest value rounded up."""
    if _empty(labels, series):
        return _no_data(title)
    if stacked:
        top = max(sum(v or 0 for v in day) for day in zip(*(s.values for s in series), strict=True))
    else:
        top = max(v or 0 for s in series for v in s.values)
    scale = _Scale(maximum if maximum is not None else _nice(top), _legend(series)[1])
    slot = _plot_width() / len(labels)
    width = slot * 0.8 / (1 if stacked else len(series))
    marks: list[str] = []
    for day, label in enumerate(labels):
        base = 0.0
        for k, s in enumerate(series):
            value = s.values[day] or 0
            x = LEFT + day * slot + slot * 0.1 + (0 if stacked else k * width)
            y0, y1 = scale.y(base + value), scale.y(base)
            tip = f"{label} · {s.name}: {_number(value)}{unit}"
            marks.append(
                f'<rect class="bar" x="{x:.2f}" y="{y0:.2f}" width="{width:.2f}" '
                f'height="{y1 - y0:.2f}" fill="{escape(s.color)}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            if stacked:
                base += value
    return _svg(title, scale, labels, series, marks, unit)


def lines(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
) -> str:
    """One point per day with a value, joined by lines; a day without a value (None) breaks
    the line rather than being drawn as zero."""
    if _empty(labels, series):
        return _no_data(title)
    scale = _Scale(_nice(max(v or 0 for s in series for v in s.values)), _legend(series)[1])
    slot = _plot_width() / len(labels)
    marks: list[str] = []
    for s in series:
        run: list[str] = []
        points: list[str] = []
        for day, (label, value) in enumerate(zip(labels, s.values, strict=True)):
            if value is None:
                marks.extend(_polyline(run, s.color))
                run = []
                continue
            x, y = LEFT + (day + 0.5) * slot, scale.y(value)
            run.append(f"{x:.2f},{y:.2f}")
            tip = f"{label} · {s.name}: {_number(value)}{unit}"
            points.append(
                f'<circle class="point" cx="{x:.2f}" cy="{y:.2f}" r="3" '
                f'fill="{escape(s.color)}"><title>{escape(tip)}</title></circle>'
            )
        marks.extend(_polyline(run, s.color))
        marks.extend(points)
    return _svg(title, scale, labels, series, marks, unit)


# -- pieces ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    top: float  # the value at the top of the plot
    plot_top: float  # where the plot starts, below the legend

    def y(self, value: float) -> float:
        height = HEIGHT - self.plot_top - BOTTOM
        return HEIGHT - BOTTOM - (value / self.top) * height if self.top else HEIGHT - BOTTOM


def _legend(series: Sequence[Series]) -> tuple[list[tuple[float, float, Series]], float]:
    """Where each series' key goes ((x, y, series)), in rows that fit the width, and where the
    plot may start below them."""
    placed: list[tuple[float, float, Series]] = []
    x, y = float(LEFT), 8.0
    for s in series:
        width = 14 + len(s.name) * FONT * 0.6
        if x > LEFT and x + width > WIDTH - RIGHT:
            x, y = float(LEFT), y + LEGEND_ROW
        placed.append((x, y, s))
        x += width + 14
    return placed, y + LEGEND_ROW + 8


def _plot_width() -> float:
    return WIDTH - LEFT - RIGHT


def _empty(labels: Sequence[str], series: Sequence[Series]) -> bool:
    return not labels or not series or not any(v for s in series for v in s.values)


def _nice(value: float) -> float:
    """The top of the scale: the smallest 1, 2, 4, 6 or 8 times a power of ten at or above
    ``value``, 2 at least, so the line at half the scale is a whole number too."""
    if value <= 2:
        return 2.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 6, 8, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _polyline(points: list[str], color: str) -> list[str]:
    if len(points) < 2:
        return []
    return [
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{escape(color)}" '
        'stroke-width="2" stroke-linejoin="round"/>'
    ]


def _open(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif" '
        f'font-size="{FONT}"><title>{escape(title)}</title>'
    )


def _no_data(title: str) -> str:
    return (
        f'{_open(title)}<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
        f'fill="{MUTED}" font-size="{FONT + 4}">{NO_DATA}</text></svg>'
    )


def _svg(
    title: str,
    scale: _Scale,
    labels: Sequence[str],
    series: Sequence[Series],
    marks: list[str],
    unit: str,
) -> str:
    parts = [_open(title)]
    # The scale: a line at 0, half and the top, each labelled.
    for fraction in (0.0, 0.5, 1.0):
        value = scale.top * fraction
        y = scale.y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.2f}" y2="{y:.2f}" stroke="{LINE}"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.2f}" text-anchor="end" fill="{MUTED}">'
            f"{escape(_number(value) + unit)}</text>"
        )
    # Day labels: today's always, then every ``step`` days back.
    slot = _plot_width() / len(labels)
    step = math.ceil(len(labels) / MAX_X_LABELS)
    for day, label in enumerate(labels):
        if (len(labels) - 1 - day) % step == 0:
            x = LEFT + (day + 0.5) * slot
            parts.append(
                f'<text x="{x:.2f}" y="{HEIGHT - 8}" text-anchor="middle" fill="{MUTED}">'
                f"{escape(label)}</text>"
            )
    parts.extend(marks)
    # The legend, across the top.
    for x, y, s in _legend(series)[0]:
        parts.append(
            f'<rect x="{x:.2f}" y="{y:.2f}" width="10" height="10" fill="{escape(s.color)}"/>'
            f'<text x="{x + 14:.2f}" y="{y + 9:.2f}" fill="{INK}">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
