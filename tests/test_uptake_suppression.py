"""Small counts are withheld in every table and the funnel, in each form an officer gets: the
dashboard page, the CSV, the XLSX and the PDF report. The cells are read back and compared,
never a "<5" searched for in the page (the legend holds that string whatever the figures)."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl import load_workbook
from pypdf import PdfReader

from referrals.models import Role
from referrals.services.uptake.exports import MONTH_FORMAT
from referrals.services.uptake.programme_report import generate_programme_report
from tests import factories
from tests.test_uptake import END, START, data  # noqa: F401 - the hand-built data set

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}
SMALL_COUNTS = {"1", "2", "3", "4"}


class TableParser(HTMLParser):
    """{caption: rows of cell texts} of every <table> in a page."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption = self._rows = self._cell = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._caption, self._rows = "", []
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._caption.strip()] = self._rows[1:]  # without the header row
            self._rows = None

    def handle_data(self, data):
        if self._in_caption:
            self._caption += data
        elif self._cell is not None:
            self._cell += data


def page_tables(page: str) -> dict[str, list[list[str]]]:
    parser = TableParser()
    parser.feed(page)
    return parser.tables


def csv_tables(content: bytes) -> dict[str, list[list[str]]]:
    tables, rows = {}, list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    blocks, block = [], []
    for row in [*rows, []]:
        if row:
            block.append(row)
        elif block:
            blocks.append(block)
            block = []
    for title, _header, *body in blocks:
        tables[title[0]] = body
    return tables


def xlsx_text(cell) -> str:
    """A cell as the page shows it: a month (a date cell) as "2026-10"."""
    if cell.value is None:
        return ""
    if cell.is_date:
        return cell.value.strftime("%Y-%m" if cell.number_format == MONTH_FORMAT else "%Y-%m-%d")
    return str(cell.value)


def xlsx_rows(content: bytes) -> list[list[str]]:
    """Every row under the title of every sheet."""
    workbook = load_workbook(io.BytesIO(content))
    return [
        [xlsx_text(cell) for cell in row]
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(min_row=2)
    ]


def pdf_lines(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(line.split()) for p in reader.pages for line in p.extract_text().splitlines()]


def expected_cells(app, data) -> dict[str, list[tuple[str, str]]]:
    """What the data set's tables must show, in Dutch. Period: 5 referrals (4 from the GP
    practice, 1 from the social team); 4 offered, 3 accepted and started, 1 completed, 1
    dropped out (motivation), 1 to regular sport; 8 sessions logged (6 present)."""
    with app.test_request_context(), force_locale("nl"):
        total = _("Total")
        municipality = data.funder.name
        return {
            _("Referrals by referring organisation"): [
                ("De Duinen", "<5"),
                (municipality, "<5"),
                (total, "5"),
            ],
            _("Referrals received by month"): [("2026-10", "<5"), ("2026-11", "<5"), (total, "5")],
            _("From referral to result"): [
                (_("Referred"), "5"),
                (_("Offered to a therapist"), "<5"),
                (_("Accepted by a therapist"), "<5"),
                (_("Started (first session attended)"), "<5"),
                (_("Completed"), "<5"),
                (_("Dropped out"), "<5"),
                (_("Moved on to regular sport"), "<5"),
            ],
            # One dropout of any reason: hidden, and so is the total it would equal.
            _("Reasons for dropping out"): [(_("Motivation"), "<5"), (total, "<5")],
            # Two small parts next to a total: both hidden, nothing more needed.
            _("Attendance at sessions in the period"): [
                (_("Present"), "6"),
                (_("Absent with notice"), "<5"),
                (_("Absent without notice"), "<5"),
                (total, "8"),
            ],
        }


def assert_no_small_count(rows: list[list[str]], where: str) -> None:
    leaked = [row for row in rows if SMALL_COUNTS & set(row[1:])]
    assert leaked == [], f"{where}: a count from 1 to 4 is shown: {leaked}"


@pytest.fixture
def officer_client(app, login_as, data):
    client = app.test_client()
    login_as(user=factories.make_user(role=Role.OFFICER, organisation=data.funder), into=client)
    return client


def test_the_dashboard_withholds_small_counts_in_each_table(app, officer_client, data):
    tables = page_tables(officer_client.get(f"/uptake/{data.id}", query_string=PERIOD).text)
    for caption, cells in expected_cells(app, data).items():
        rows = {tuple(row[:2]) for row in tables[caption]}
        assert set(cells) <= rows, (caption, tables[caption])
    for caption, rows in tables.items():
        assert_no_small_count(rows, caption)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_exports_withhold_small_counts_in_each_table(app, officer_client, data, kind):
    response = officer_client.get(f"/uptake/{data.id}/export.{kind}", query_string=PERIOD)
    assert response.status_code == 200
    if kind == "csv":
        tables = csv_tables(response.data)
        for caption, cells in expected_cells(app, data).items():
            assert set(cells) <= {tuple(row[:2]) for row in tables[caption]}, caption
        rows = [row for table in tables.values() for row in table]
    else:
        rows = xlsx_rows(response.data)
        expected = {cell for cells in expected_cells(app, data).values() for cell in cells}
        assert expected <= {tuple(row[:2]) for row in rows}
    assert_no_small_count(rows, kind)


def test_the_pdf_report_withholds_small_counts_in_each_table(app, db, data):
    with app.test_request_context():
        report = generate_programme_report(data, START, END, actor=None)
    lines = pdf_lines(report.pdf)
    for caption, cells in expected_cells(app, data).items():
        for label, shown in cells:
            assert f"{label} {shown}" in lines, (caption, label, shown)
    true_counts = [("De Duinen", "4"), ("2026-10", "2"), ("2026-11", "3")]
    for label, count in true_counts:
        assert f"{label} {count}" not in lines
