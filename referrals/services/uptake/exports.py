"""Tables as CSV and XLSX downloads, safe to open in a spreadsheet.

A cell that starts with = + - @, a tab or a carriage return would be read as a formula by
Excel or LibreOffice (CSV injection, OWASP). Such text gets a leading apostrophe, which the
spreadsheet shows as plain text.

The CSV holds the texts the page shows. The XLSX keeps what a spreadsheet can work with:
counts as whole numbers, amounts, days and shares as numbers with a number format, months and
days as real dates; a withheld count stays the text "<5", with a comment on the cell and a
legend line under its table that say why.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from referrals.services.uptake.disclosure import SMALL, Shown

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "d-m-yyyy"  # Dutch: 1-10-2026
MONTH_FORMAT = "mmmm yyyy"  # oktober 2026 (month names in the reader's language)
SHEET_NAME_LENGTH = 31  # Excel's limit
_NOT_IN_SHEET_NAMES = "[]:*?/\\"


def harmless(value: object) -> object:
    """The cell value with any formula start defused; numbers and None pass unchanged."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


@dataclass(frozen=True)
class Figure:
    """A number or date in a table: the text a page and the CSV show, and the value and
    Excel number format the XLSX keeps (so that it can be summed, sorted and charted)."""

    value: int | float | date
    text: str
    number_format: str = "General"

    def __str__(self) -> str:
        return self.text


@dataclass
class Table:
    """A titled table: a header row and data rows (one sheet in XLSX). `sheet_name` is a
    short name for the sheet tab when the title is longer than Excel allows."""

    title: str
    header: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)
    sheet_name: str | None = None


def to_csv(tables: Sequence[Table]) -> bytes:
    """All tables in one CSV (semicolon-separated, as Dutch Excel expects; UTF-8 with BOM),
    each preceded by its title and followed by an empty line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for number, table in enumerate(tables):
        if number:
            writer.writerow([])
        writer.writerow([harmless(table.title)])
        writer.writerow([harmless(h) for h in table.header])
        for row in table.rows:
            writer.writerow(["" if v is None else harmless(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def whole_words(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary (never mid-word, never
    after an opening bracket); a first word longer than `limit` is the only thing cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    head = head[: head.rfind(" ")] if " " in head else text[:limit]
    if head.count("(") > head.count(")"):
        head = head[: head.rfind("(")]
    return head.rstrip(" ,;-–(") or text[:limit]


def sheet_title(table: Table, used: set[str]) -> str:
    """A valid sheet name for `table`, unique in the workbook (`used`, lower case): its short
    name or its title, without the characters Excel refuses, cut at a whole word."""
    name = table.sheet_name or table.title
    cleaned = "".join("-" if c in _NOT_IN_SHEET_NAMES else c for c in name).strip("' ")
    candidate = whole_words(cleaned, SHEET_NAME_LENGTH) or "Blad"
    n = 2
    while candidate.lower() in used:
        suffix = f" {n}"
        candidate = whole_words(cleaned, SHEET_NAME_LENGTH - len(suffix)) + suffix
        n += 1
    used.add(candidate.lower())
    return candidate


def spreadsheet_value(value: object) -> tuple[object, str | None]:
    """(what the XLSX cell holds, its number format or None)."""
    if isinstance(value, Shown):
        return (value.text, None) if value.withheld else (value.value, None)
    if isinstance(value, Figure):
        return value.value, value.number_format
    if isinstance(value, datetime):
        return value, None
    if isinstance(value, date):
        return value, DATE_FORMAT
    return harmless(value), None


def is_withheld(value: object) -> bool:
    text = value.text if isinstance(value, Shown) else value
    return text == SMALL


def to_xlsx(
    tables: Sequence[Table], *, notes: Mapping[str, str] | None = None, author: str = ""
) -> bytes:
    """One sheet per table: the title, an empty row, the header in bold (if any), the rows;
    then, where the table has a withheld "<5", a legend line from `notes` (symbol ->
    explanation), which is also the comment on each withheld cell."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    notes = notes or {}
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    bold, title_font, legend_font = Font(bold=True), Font(bold=True, size=12), Font(italic=True)

    def cell(sheet, value, font=None):
        stored, number_format = spreadsheet_value(value)
        made = WriteOnlyCell(sheet, value=stored)
        if number_format:
            made.number_format = number_format
        if font is not None:
            made.font = font
        if is_withheld(value) and str(value) in notes:
            made.comment = Comment(notes[str(value)], author, width=260, height=90)
        return made

    for table in tables:
        sheet = workbook.create_sheet(sheet_title(table, used))
        _column_widths(sheet, table)
        sheet.append([cell(sheet, table.title, title_font)])
        sheet.append([])
        if table.header:
            sheet.append([cell(sheet, title, bold) for title in table.header])
        withheld = []
        for row in table.rows:
            sheet.append([cell(sheet, v) for v in row])
            withheld += [str(v) for v in row if is_withheld(v) and str(v) not in withheld]
        if any(symbol in notes for symbol in withheld):
            sheet.append([])
        if SMALL in withheld and SMALL in notes:
            sheet.append([cell(sheet, notes[SMALL], legend_font)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _column_widths(sheet, table: Table) -> None:
    """Wide enough for the header and the cells (not for the title, legend and other lines of
    one cell, which may run on over the empty cells beside them)."""
    from openpyxl.utils import get_column_letter

    def shown_length(value: object) -> int:
        if isinstance(value, Figure) and isinstance(value.value, date):
            return 16 if value.number_format == MONTH_FORMAT else 10  # "september 2026"
        return len(str(value))

    columns = max([len(table.header), *(len(row) for row in table.rows)], default=0)
    for index in range(columns):
        cells = [row[index] for row in table.rows if len(row) > 1 and index < len(row)]
        lengths = [shown_length(value) for value in cells]
        if index < len(table.header):
            lengths.append(len(str(table.header[index])))
        width = min(max([10, *(n + 2 for n in lengths)]), 60)
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
