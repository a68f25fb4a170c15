"""Counts are rounded to base 5 in every table and the funnel, in each form an officer gets:
the dashboard page, the CSV, the XLSX and the PDF report. The cells are read back and compared
with the coordinator's exact ones, never a "<5" searched for in the page (the legend holds that
string whatever the figures)."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from referrals.models import Role
from referrals.services.uptake.exports import MONTH_FORMAT
from referrals.services.uptake.programme_report import generate_programme_report
from tests import factories
from tests.test_uptake import END, START, data  # noqa: F401 - the hand-built data set

PERIOD = {"period": "2026-Q4"}  # START to END: October and November 2026
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


def assert_no_small_count(rows: list[list[str]], where: str) -> None:
    leaked = [row for row in rows if SMALL_COUNTS & set(row[1:])]
    assert leaked == [], f"{where}: a count from 1 to 4 is shown: {leaked}"


def rounds_to(shown: str, count: int) -> bool:
    """Whether `shown` is what random rounding to base 5 can make of `count`: a multiple of 5
    within 4 of it, shown as "<5" when that multiple is 0."""
    if shown == "<5":
        return count < 5
    if not shown.isdigit():
        return False
    value = int(shown)
    return value > 0 and value % 5 == 0 and abs(value - count) < 5


def is_count(cell: str) -> bool:
    return cell.isdigit() or cell == "<5"


@pytest.fixture
def officer_client(app, login_as, data):
    client = app.test_client()
    login_as(user=factories.make_user(role=Role.OFFICER, organisation=data.funder), into=client)
    return client


@pytest.fixture
def coordinator_client(app, login_as, data):
    client = app.test_client()
    login_as(user=data.coordinators[0], into=client)
    return client


def comparable(caption: str, rows: list[list[str]], exact: bool) -> list[list[str]]:
    """The rows without the columns only the coordinator's exact tables have (the median and
    90th percentile of the waits, the mean change of the outcomes)."""
    if exact and caption == "Wachttijden":
        return [row[:-2] for row in rows]
    if exact and caption == "Uitkomsten van intake tot einde":
        return [row[:2] + row[3:] for row in rows]
    return rows


def test_every_count_the_officer_sees_is_the_true_count_rounded_to_five(
    officer_client, coordinator_client, data
):
    """The coordinator's page gives the true counts; the officer's page, cell by cell, a
    multiple of 5 within 4 of each, never a count from 1 to 4, and shares and costs computed
    from what it shows."""
    exact = page_tables(coordinator_client.get(f"/uptake/{data.id}", query_string=PERIOD).text)
    shown = page_tables(officer_client.get(f"/uptake/{data.id}", query_string=PERIOD).text)
    assert set(exact) == set(shown) and len(shown) >= 10
    counts = 0
    for caption, rows in shown.items():
        truth = comparable(caption, exact[caption], exact=True)
        assert len(rows) == len(truth), caption
        for row, true_row in zip(rows, truth, strict=True):
            assert row[0] == true_row[0] and len(row) == len(true_row), (caption, row)
            for cell, true_cell in zip(row[1:], true_row[1:], strict=True):
                if true_cell.isdigit():
                    assert rounds_to(cell, int(true_cell)), (caption, row[0], cell, true_cell)
                    counts += 1
        assert_no_small_count(rows, caption)
    assert counts >= 40
    costs = {row[0]: row[1] for row in shown["Kosten"]}
    present = costs["Gegeven sessies (aanwezig)"]
    expected = "–" if present == "<5" else f"€ {int(present) * 45},00"
    assert costs["Kosten van gegeven sessies"] == expected
    # A true 1 (one referral by the social team) and a true 0 both show as "<5" or 5.
    kinds = {row[0]: row[1] for row in shown["Verwijzingen per soort verwijzer"]}
    assert kinds["Gemeente (sociaal team)"] in ("<5", "5")


@pytest.mark.parametrize("role", ["officer", "coordinator"])
def test_the_downloads_and_the_report_show_the_officers_rounded_cells(
    app, db, officer_client, coordinator_client, data, role
):
    """Whoever downloads: the CSV, the XLSX and the PDF hold the cells of the officer's page,
    and each says which rules it follows."""
    client = officer_client if role == "officer" else coordinator_client
    shown = page_tables(officer_client.get(f"/uptake/{data.id}", query_string=PERIOD).text)
    csv_response = client.get(f"/uptake/{data.id}/export.csv", query_string=PERIOD)
    assert csv_response.status_code == 200
    in_csv = csv_tables(csv_response.data)
    for caption, rows in shown.items():
        assert in_csv[caption] == rows, caption
    method = [row[0] for row in in_csv["Hoe deze cijfers tot stand komen"]]
    assert any("Willekeurig afronden op vijftallen" in line for line in method)
    xlsx = xlsx_rows(client.get(f"/uptake/{data.id}/export.xlsx", query_string=PERIOD).data)
    # Counts as numbers, amounts and shares as numbers with a format: the rows of counts.
    for rows in shown.values():
        for row in rows:
            if all(is_count(cell) for cell in row[1:]):
                assert row in [r[: len(row)] for r in xlsx], row
    assert any("Willekeurig afronden op vijftallen" in " ".join(r) for r in xlsx)
    with app.test_request_context():
        report = generate_programme_report(data, START, END, actor=None)
    lines = pdf_lines(report.pdf)
    text = " ".join(lines)
    for caption in ("Verwijzingen per verwijzende organisatie", "Van verwijzing tot resultaat"):
        for row in shown[caption]:
            assert " ".join(row) in text, (caption, row)
    assert "Willekeurig afronden op vijftallen" in text


def test_asking_again_gives_the_same_rounding(officer_client, data):
    first = officer_client.get(f"/uptake/{data.id}", query_string=PERIOD).text
    again = officer_client.get(f"/uptake/{data.id}", query_string=PERIOD).text
    assert page_tables(first) == page_tables(again)
