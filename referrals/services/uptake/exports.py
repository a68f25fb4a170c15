"""Tables as CSV and XLSX downloads, safe to open in a spreadsheet.

A cell that starts with = + - @, a tab or a carriage return would be read as a formula by
Excel or LibreOffice (CSV injection, OWASP). Such text gets a leading apostrophe, which the
spreadsheet shows as plain text. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def harmless(value: object) -> object:
    """The cell value with any formula start defused; numbers and None pass unchanged."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


@dataclass
class Table:
    """A titled table: a header row and data rows (one sheet in XLSX)."""

    title: str
    header: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)


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


def _sheet_title(title: str, used: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ and unique within the workbook.
    cleaned = "".join("-" if c in "[]:*?/\\" else c for c in title).strip("' ")[:31] or "Blad"
    candidate, n = cleaned, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate, n = cleaned[: 31 - len(suffix)] + suffix, n + 1
    used.add(candidate.lower())
    return candidate


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """One sheet per table, header in bold, written with openpyxl."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    used: set[str] = set()
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(_sheet_title(table.title, used))
        header = []
        for title in table.header:
            cell = WriteOnlyCell(sheet, value=harmless(title))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            sheet.append([harmless(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
