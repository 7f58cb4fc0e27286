"""The SVG charts, as pure functions: well-formed XML, one mark per day, escaped text, and an
honest "sin datos" when there is nothing to draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from agrochat.http._charts import BLUE, NO_DATA, Series, bars, lines

SVG = "{http://www.w3.org/2000/svg}"
LABELS = [f"{d:02d}/09" for d in range(1, 15)]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def marks(root: ET.Element, kind: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{kind}") if e.get("class") == cls]


@pytest.mark.parametrize("stacked", [False, True])
def test_bars_draw_one_bar_per_series_per_day(stacked: bool) -> None:
    series = [Series("Recibidos", list(range(14))), Series("Enviados", [2] * 14, BLUE)]
    root = parse(bars("Mensajes", LABELS, series, stacked=stacked))
    drawn = marks(root, "rect", "bar")
    assert len(drawn) == 2 * len(LABELS)
    assert all(float(r.get("height", "-1")) >= 0 for r in drawn)
    # Every bar says what it is when pointed at.
    assert drawn[-1].findtext(f"{SVG}title") == "14/09 · Enviados: 2"


def test_a_taller_value_draws_a_taller_bar() -> None:
    root = parse(bars("Alertas", ["a", "b", "c"], [Series("Enviadas", [1, 4, 2])]))
    heights = [float(r.get("height", "0")) for r in marks(root, "rect", "bar")]
    assert heights[1] > heights[2] > heights[0] > 0


def test_stacked_shares_reach_the_top_of_a_fixed_scale() -> None:
    series = [Series("Sí", [50.0, 100.0]), Series("No", [50.0, 0.0], BLUE)]
    root = parse(bars("Respuestas", ["a", "b"], series, stacked=True, maximum=100, unit=" %"))
    drawn = marks(root, "rect", "bar")
    tops = [float(r.get("y", "0")) for r in drawn]
    assert tops[1] == pytest.approx(tops[2])  # both days stack to 100 %
    assert "100 %" in [t.text for t in root.iter(f"{SVG}text")]


def test_lines_draw_one_point_per_day_with_a_value_and_break_at_gaps() -> None:
    values: list[float | None] = [1.5, 2.0, None, 4.0, 3.0, 2.5, 1.0]
    root = parse(lines("Latencia", LABELS[:7], [Series("p50", values)], unit=" s"))
    assert len(marks(root, "circle", "point")) == 6
    assert len(list(root.iter(f"{SVG}polyline"))) == 2  # before and after the missing day
    full = parse(lines("Latencia", LABELS, [Series("p50", [1.0] * 14), Series("p95", [2.0] * 14)]))
    assert len(marks(full, "circle", "point")) == 2 * len(LABELS)


@pytest.mark.parametrize(
    "series",
    [[Series("Recibidos", [0] * 14)], [Series("p50", [None] * 14)], []],
    ids=["zeros", "no values", "no series"],
)
def test_an_empty_series_says_sin_datos(series: list[Series]) -> None:
    for draw in (bars, lines):
        root = parse(draw("Mensajes", LABELS, series))
        assert [t.text for t in root.iter(f"{SVG}text")] == [NO_DATA]
        assert not marks(root, "rect", "bar")
        assert not marks(root, "circle", "point")
    assert NO_DATA in bars("Mensajes", [], [Series("x", [])])


def test_titles_names_and_labels_are_escaped() -> None:
    hostile = '<script>alert("x")</script> & "co"'
    svg = bars(hostile, [hostile], [Series(hostile, [1], color='"/><script>')])
    root = parse(svg)  # still well-formed
    assert "<script>" not in svg
    assert root.get("aria-label") == hostile
    assert root.findtext(f"{SVG}title") == hostile
    assert hostile in [t.text for t in root.iter(f"{SVG}text")]


def test_the_chart_scales_to_its_container_without_inline_styles() -> None:
    root = parse(bars("Mensajes", LABELS, [Series("Recibidos", [1] * 14)]))
    assert root.get("viewBox") == "0 0 400 220"
    assert root.get("width") == "100%"
    assert root.get("role") == "img"
    # The panel's Content-Security-Policy refuses inline styles.
    assert not [e for e in root.iter() if "style" in e.attrib or e.tag == f"{SVG}style"]


def test_ninety_days_still_get_at_most_seven_day_labels_today_included() -> None:
    labels = [f"d{i}" for i in range(90)]
    root = parse(bars("Mensajes", labels, [Series("Recibidos", [1] * 90)]))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    shown = [t for t in texts if t and t.startswith("d")]
    assert shown[-1] == "d89"
    assert len(shown) <= 7


def test_a_long_legend_wraps_inside_the_chart() -> None:
    names = ["Con consejo verificado", "Sin respuesta", "Escaladas", "Otra serie más larga"]
    root = parse(bars("Respuestas", ["a"], [Series(n, [1]) for n in names], stacked=True))
    keys = [t for t in root.iter(f"{SVG}text") if t.text in names]
    assert len({t.get("y") for t in keys}) > 1  # more than one row
    width = float(root.get("viewBox", "").split()[2])
    assert all(float(t.get("x", "0")) + len(t.text or "") * 7.2 <= width for t in keys)
