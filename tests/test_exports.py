"""CSV and XLSX exports: the same tables, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook

from referrals.models import Role
from referrals.services.uptake import downloads, programme_uptake, uptake_view
from referrals.services.uptake.disclosure import SMALL, Shown
from referrals.services.uptake.exports import (
    DATE_FORMAT,
    MONTH_FORMAT,
    Figure,
    Table,
    harmless,
    sheet_title,
    to_csv,
    to_xlsx,
)
from tests import factories
from tests.test_uptake import END, START, data  # noqa: F401 - the hand-built data set

PERIOD = {"period": "2026-Q4"}  # START to END

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


def test_xlsx_has_a_sheet_per_table_with_its_title_and_text_not_formulas():
    workbook = load_workbook(io.BytesIO(to_xlsx(tables())))
    assert workbook.sheetnames == ["Verwijzingen per maand", "Verwijzers"]
    months = list(workbook["Verwijzingen per maand"].iter_rows(values_only=True))
    assert months[0][0] == "Verwijzingen per maand"  # the title, above an empty row
    assert months[2:] == [("Maand", "Aantal"), ("2026-10", 12), ("2026-11", "<5")]
    cells = [row[0] for row in workbook["Verwijzers"].iter_rows(min_row=4)]
    # XML keeps no bare carriage return: "\r" reads back as "\n", still after the apostrophe.
    assert [c.value for c in cells] == ["'" + v.replace("\r", "\n") for v in HOSTILE]
    assert all(c.data_type == "s" for c in cells)


NOTES = {SMALL: "<5: een aantal dat op 0 afrondt."}


def typed_tables():
    october, november = date(2026, 10, 1), date(2026, 11, 1)
    parts = [Shown("10", value=10), Shown(SMALL, True), Shown("15", value=15)]
    total = Shown("25", value=25)
    return [
        Table(
            "Verwijzingen per maand",
            ["Maand", "Verwijzingen"],
            [
                [Figure(october, "2026-10", MONTH_FORMAT), parts[0]],
                [Figure(november, "2026-11", MONTH_FORMAT), parts[1]],
                [Figure(date(2026, 12, 1), "2026-12", MONTH_FORMAT), parts[2]],
                ["Totaal", total],
            ],
        ),
        Table(
            "Periode en kosten",
            ["Onderdeel", "Waarde"],
            [["Vanaf", date(2026, 10, 1)], ["Tarief", Figure(45.0, "€ 45,00", '"€ "#,##0.00')]],
        ),
    ]


def test_xlsx_keeps_counts_as_numbers_months_and_days_as_dates_and_explains_withheld_cells():
    workbook = load_workbook(io.BytesIO(to_xlsx(typed_tables(), notes=NOTES)))
    months = workbook["Verwijzingen per maand"]
    assert [c.value for c in months[3]] == ["Maand", "Verwijzingen"]
    october = months["B4"]
    assert october.value == 10 and type(october.value) is int and october.data_type == "n"
    assert months["B7"].value == 25 and type(months["B7"].value) is int  # the total
    assert months["A4"].is_date and months["A4"].value == datetime(2026, 10, 1)
    assert months["A4"].number_format == MONTH_FORMAT
    withheld = months["B5"]
    assert (withheld.value, withheld.data_type) == ("<5", "s")
    assert withheld.comment is not None and withheld.comment.text == NOTES[SMALL]
    assert october.comment is None and months["B6"].comment is None
    # A legend line for the withheld cells, under the table after an empty row.
    assert months["A8"].value is None
    assert months["A9"].value == NOTES[SMALL]
    assert months.max_row == 9

    other = workbook["Periode en kosten"]
    assert other["B4"].is_date and other["B4"].value == datetime(2026, 10, 1)
    assert other["B4"].number_format == DATE_FORMAT == "d-m-yyyy"
    assert other["B5"].value == 45.0 and other["B5"].number_format == '"€ "#,##0.00'
    assert other.max_row == 5  # nothing withheld, so no legend


def test_csv_shows_typed_cells_as_their_text():
    rows = list(csv.reader(io.StringIO(to_csv(typed_tables()).decode("utf-8-sig")), delimiter=";"))
    assert rows[2:6] == [["2026-10", "10"], ["2026-11", "<5"], ["2026-12", "15"], ["Totaal", "25"]]
    assert rows[-1] == ["Tarief", "€ 45,00"]


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Verwijzingen ontvangen per maand", "Verwijzingen ontvangen per"),
        ("Reasons for referral (a referral can have several)", "Reasons for referral"),
        ("Kort", "Kort"),
        ("Eenheelerglangwoordzonderspatiesdatnietpast", "Eenheelerglangwoordzonderspatie"),
    ],
)
def test_a_long_title_is_cut_at_a_whole_word(title, name):
    assert sheet_title(Table(title, []), set()) == name


def test_a_repeated_name_gets_a_number_and_keeps_whole_words():
    used: set[str] = set()
    names = [sheet_title(Table("Verwijzingen per verwijzende organisatie", []), used) for _ in "ab"]
    assert names == ["Verwijzingen per verwijzende", "Verwijzingen per verwijzende 2"]
    assert sheet_title(Table("lang", [], sheet_name="Per maand"), used) == "Per maand"


def test_sheet_titles_are_made_valid_and_unique():
    workbook = load_workbook(
        io.BytesIO(to_xlsx([Table("a/b: c?" * 6, ["x"]), Table("a/b: c?" * 6, ["x"])]))
    )
    first, second = workbook.sheetnames
    assert len(first) <= 31 and len(second) <= 31 and first != second
    assert not set("[]:*?/\\") & set(first + second)


DUTCH_SHEETS = [
    "Over deze cijfers",
    "Per maand",
    "Per verwijzende organisatie",
    "Per soort verwijzer",
    "Redenen voor verwijzing",
    "Van verwijzing tot resultaat",
    "Redenen van uitval",
    "Wachttijden",
    "Aanwezigheid",
    "Kosten",
    "Bereik",
    "K10 bij intake",
    "Naar leeftijd",
    "Naar postcodegebied",
    "Uitkomsten",
    "K10 voor en na",
    "Geregeld sporten",
]


def rows_by_label(sheet) -> dict[str, tuple]:
    return {row[0].value: row for row in sheet.iter_rows(min_row=2) if row[0].value}


def test_the_programme_export_has_numbers_dates_and_explained_withheld_cells(
    client, login_as, data
):
    login_as(user=factories.make_user(role=Role.OFFICER, organisation=data.funder))
    response = client.get(f"/uptake/{data.id}/export.xlsx", query_string=PERIOD)
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == DUTCH_SHEETS

    about = rows_by_label(workbook["Over deze cijfers"])
    start, end = about["Vanaf"][1], about["Tot en met"][1]
    assert start.is_date and start.value == datetime(2026, 10, 1)
    assert start.number_format == "d-m-yyyy"
    assert end.is_date and end.value == datetime(2026, 11, 30)
    assert about["Programma"][1].value == data.name

    assert about["Rapportageperiode"][1].value == "4e kwartaal 2026, tot en met november 2026"

    attendance = workbook["Aanwezigheid"]
    assert attendance["A1"].value == "Aanwezigheid bij sessies in de periode"
    rows = rows_by_label(attendance)
    present, total = rows["Aanwezig"][1], rows["Totaal"][1]
    # 6 present of 8: rounded to a multiple of 5, and a number in the sheet.
    assert present.value in (5, 10) and type(present.value) is int
    assert total.value in (5, 10) and type(total.value) is int

    # Nobody dropped out for an injury: a true 0 shows as "<5", explained.
    dropouts = rows_by_label(workbook["Redenen van uitval"])
    injury = dropouts["Blessure of ziekte"][1]
    assert injury.value == "<5"
    assert injury.comment.text.startswith('"<5": een aantal dat op 0 afrondt')
    legend = [row[0].value for row in workbook["Redenen van uitval"].iter_rows() if row[0].value]
    assert legend[-1] == injury.comment.text

    months = rows_by_label(workbook["Per maand"])
    october = next(row for label, row in months.items() if isinstance(label, datetime))
    assert october[0].value == datetime(2026, 10, 1) and october[0].number_format == MONTH_FORMAT
    assert october[1].value in ("<5", 5)  # 2 referrals

    costs = rows_by_label(workbook["Kosten"])
    tariff = costs["Tarief per sessie"][1]
    assert tariff.value == 45.0 and tariff.number_format == '"€ "#,##0.00'
    # The cost of the sessions as shown: the rounded count times the tariff.
    assert costs["Kosten van gegeven sessies"][1].value == present.value * 45.0


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_sheet_name_is_short_whole_words_and_unique(app, data, language):
    with app.test_request_context(), force_locale(language):
        view = uptake_view.protected(programme_uptake(data, START, END))
        about = downloads.about_table(data.name, "Q4", START, END, START, view.method)
        tables = [about, *view.tables]
        workbook = load_workbook(io.BytesIO(to_xlsx(tables)))
        named = [table.sheet_name or table.title for table in tables]
    assert len(workbook.sheetnames) == len(tables)
    assert len({name.lower() for name in workbook.sheetnames}) == len(tables)
    # Each sheet is named by its short name or its whole title: nothing was cut.
    assert workbook.sheetnames == named
    assert all(len(name) <= 31 for name in named)
    for sheet, table in zip(workbook.worksheets, tables, strict=True):
        assert sheet["A1"].value == table.title  # the full title stays in the sheet
