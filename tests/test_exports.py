"""CSV and XLSX exports: the same tables, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from referrals.services.uptake.exports import Table, harmless, to_csv, to_xlsx

HOSTILE = ['=HYPERLINK("http://evil")', "+31 6 1234", "-2+3", "@SUM(A1)", "\tcmd", "\rx"]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_starts_are_made_harmless(value):
    assert harmless(value) == "'" + value


def test_ordinary_values_are_kept():
    assert [harmless(v) for v in ("Noordwijk", "<5", 12, 0.5, None, -3)] == [
        "Noordwijk",
        "<5",
        12,
        0.5,
        None,
        -3,
    ]


def tables():
    return [
        Table("Verwijzingen per maand", ["Maand", "Aantal"], [["2026-10", 12], ["2026-11", "<5"]]),
        Table("Verwijzers", ["Organisatie", "Aantal"], [[name, 7] for name in HOSTILE]),
    ]


def test_csv_has_every_table_with_its_title_and_defused_cells():
    data = to_csv(tables())
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Verwijzingen per maand"]
    assert rows[1:4] == [["Maand", "Aantal"], ["2026-10", "12"], ["2026-11", "<5"]]
    organisations = [row[0] for row in rows[7:]]
    assert organisations == ["'" + v for v in HOSTILE]


def test_xlsx_has_a_sheet_per_table_text_not_formulas_and_numbers_as_numbers():
    workbook = load_workbook(io.BytesIO(to_xlsx(tables())))
    assert workbook.sheetnames == ["Verwijzingen per maand", "Verwijzers"]
    months = list(workbook["Verwijzingen per maand"].iter_rows(values_only=True))
    assert months == [("Maand", "Aantal"), ("2026-10", 12), ("2026-11", "<5")]
    cells = [row[0] for row in workbook["Verwijzers"].iter_rows(min_row=2)]
    # XML keeps no bare carriage return: "\r" reads back as "\n", still after the apostrophe.
    assert [c.value for c in cells] == ["'" + v.replace("\r", "\n") for v in HOSTILE]
    assert all(c.data_type == "s" for c in cells)


def test_sheet_titles_are_made_valid_and_unique():
    workbook = load_workbook(
        io.BytesIO(to_xlsx([Table("a/b: c?" * 6, ["x"]), Table("a/b: c?" * 6, ["x"])]))
    )
    first, second = workbook.sheetnames
    assert len(first) <= 31 and len(second) <= 31 and first != second
    assert not set("[]:*?/\\") & set(first + second)
