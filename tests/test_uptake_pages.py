"""The officer's dashboard and exports: aggregates only, small counts withheld, audited."""

from __future__ import annotations

import csv
import html
import io
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own output
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from referrals.models import (
    AuditAction,
    AuditEvent,
    Organisation,
    OrganisationKind,
    Referral,
    Role,
    User,
)
from tests import factories
from tests.helpers import text
from tests.test_charts import SVG, bar_rows
from tests.test_uptake import data  # noqa: F401 - the hand-built data set as a fixture
from tests.test_uptake_suppression import page_tables, rounds_to

# The fourth quarter of 2026 up to the last complete month (the clock stands at 7 December
# 2026: the data fixture's reporting_today): 1 October to 30 November.
PERIOD = {"period": "2026-Q4"}


def officer_of(programme):
    return factories.make_user(role=Role.OFFICER, organisation=programme.funder)


def test_the_officer_sees_labelled_figures_without_names_or_free_text(client, login_as, data):
    login_as(user=officer_of(data))
    page = text(client.get(f"/uptake/{data.id}", query_string=PERIOD))
    assert data.name in page
    # Which cells are withheld is checked cell by cell in test_uptake_suppression.py.
    assert "Visser" not in page  # the participants' last name
    assert "Sleeps badly" not in page  # the referrers' free text
    assert 'role="img"' in page and "<title" in page  # charts with a title
    # Kinds, reasons and dropout reasons by their Dutch names, not their codes.
    assert "Huisartsenpraktijk" in page and "Gemeente (sociaal team)" in page
    assert "Somberheid" in page and "Blessure of ziekte" in page and "low_mood" not in page


def test_an_officer_of_another_municipality_gets_404(client, login_as, data):
    other = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    login_as(user=factories.make_user(role=Role.OFFICER, organisation=other))
    assert client.get(f"/uptake/{data.id}").status_code == 404
    assert client.get(f"/uptake/{data.id}/export.xlsx").status_code == 404
    assert data.name not in text(client.get("/uptake"))


def test_an_officer_chooses_a_fixed_period_and_cannot_give_free_dates(client, login_as, data):
    login_as(user=officer_of(data))
    page = text(client.get(f"/uptake/{data.id}", query_string=PERIOD))
    lead = "4e kwartaal 2026, tot en met november 2026: 1 oktober 2026 tot en met 30 november 2026"
    assert lead in page
    # Free dates (the differencing of F1: 12 October and 13 October to 2 December) are not
    # read: the page shows its default period, the year up to the last complete month.
    for start in ("2026-10-12", "2026-10-13"):
        page = text(
            client.get(f"/uptake/{data.id}", query_string={"start": start, "end": "2026-12-02"})
        )
        assert "1 januari 2026 tot en met 30 november 2026" in page
        assert 'name="start"' not in page
    # A month still running is no period.
    response = client.get(f"/uptake/{data.id}", query_string={"period": "2026-12"})
    page = text(response)
    assert response.status_code == 200
    assert 'id="period-error"' in page and "Kies een van de perioden uit de lijst." in page
    assert (
        client.get(f"/uptake/{data.id}/export.csv", query_string={"period": "2026-12"}).status_code
        == 400
    )
    assert (
        client.get(
            f"/uptake/{data.id}/export.csv",
            query_string={"start": "2026-10-12", "end": "2026-12-02"},
        ).status_code
        == 400
    )


def test_a_coordinators_free_period_that_ends_before_it_starts_is_explained(
    db, client, login_as, data
):
    login_as(user=data.coordinators[0])
    response = client.get(
        f"/uptake/{data.id}", query_string={"start": "2026-11-30", "end": "2026-10-01"}
    )
    page = text(response)
    assert response.status_code == 200
    assert 'id="end-error"' in page and 'value="2026-11-30"' in page
    response = client.get(f"/uptake/{data.id}", query_string={"start": "gisteren"})
    assert response.status_code == 200 and 'id="start-error"' in text(response)


def test_csv_and_xlsx_exports_are_downloads_defused_and_audited(db, client, login_as, data):
    hostile = db.session.scalars(
        sa.select(Organisation).where(Organisation.name == "De Duinen")
    ).one()
    hostile.name = '=HYPERLINK("http://evil.example")'
    db.session.flush()
    login_as(user=officer_of(data))
    response = client.get(f"/uptake/{data.id}/export.csv", query_string=PERIOD)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    cells = [cell for row in rows for cell in row]
    assert '\'=HYPERLINK("http://evil.example")' in cells
    assert not any(cell.startswith("=") for cell in cells)

    response = client.get(f"/uptake/{data.id}/export.xlsx", query_string=PERIOD)
    workbook = load_workbook(io.BytesIO(response.data))
    values = [c.value for sheet in workbook for row in sheet.iter_rows() for c in row]
    assert '\'=HYPERLINK("http://evil.example")' in values
    assert all(c.data_type != "f" for sheet in workbook for row in sheet.iter_rows() for c in row)

    exports = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.EXPORT)
    ).all()
    assert len(exports) == 2 and all(e.participant_id is None for e in exports)


def key_figure(page: str, label: str) -> str:
    """The value (dd) the dashboard shows next to the key figure `label` (dt)."""
    figures = re.search(r'<dl class="summary key-figures">(.*?)</dl>', page, re.S).group(1)
    pairs = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", figures))
    return html.unescape(pairs[label])


def table_cells(page: str, caption: str) -> dict[str, str]:
    """{row label: first value} of the table with `caption`."""
    return {row[0]: row[1] for row in page_tables(page)[caption]}


@pytest.mark.parametrize("period", ["2026-Q4", "2026-11", "2026-10"])
def test_the_attendance_headline_is_the_share_of_the_attendance_tables_rounded_cells(
    client, login_as, data, period
):
    login_as(user=officer_of(data))
    page = text(client.get(f"/uptake/{data.id}", query_string={"period": period}))
    cells = table_cells(page, "Aanwezigheid bij sessies in de periode")
    present, total = cells["Aanwezig"], cells["Totaal"]
    if present.isdigit() and total.isdigit() and int(present) <= int(total):
        rate = f"{round(100 * int(present) / int(total))}%"
    else:
        rate = "–"
    assert key_figure(page, "Opkomst") == rate


def test_the_coordinator_sees_exact_figures_and_the_officer_rounded_ones(client, login_as, data):
    login_as(user=data.coordinators[0])
    page = text(client.get(f"/uptake/{data.id}", query_string=PERIOD))
    assert table_cells(page, "Aanwezigheid bij sessies in de periode") == {
        "Aanwezig": "6",
        "Afgemeld": "1",
        "Afwezig zonder afmelding": "1",
        "Totaal": "8",
    }
    assert key_figure(page, "Opkomst") == "75%"
    assert "Exacte cijfers" in page
    login_as(user=officer_of(data))
    page = text(client.get(f"/uptake/{data.id}", query_string=PERIOD))
    shown = table_cells(page, "Aanwezigheid bij sessies in de periode")
    assert set(shown.values()) <= {"<5", "5", "10"}
    assert shown["Afgemeld"] in ("<5", "5")


def month_bars(page: str) -> list[tuple[str, float | None, str]]:
    """(month, bar width or None, text shown) per row of the month chart on the page."""
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.find(f"{SVG}title").text == "Verwijzingen ontvangen per maand"
    return [
        (label, float(bars[0].get("width")) if bars else None, value.text)
        for label, bars, value in bar_rows(root)
    ]


def test_the_month_chart_has_a_bar_for_each_month_that_may_be_shown(db, client, login_as, data):
    # The year 2026 up to November: R5 in September, 2 + 5 = 7 in October and 3 in November.
    referrer = db.session.get(User, db.session.scalars(sa.select(Referral.referrer_id)).first())
    for day in range(6, 11):
        extra = factories.make_referral(programme=data, referrer=referrer)
        extra.submitted_at = datetime(2026, 10, day, 10, tzinfo=UTC)
    db.session.flush()
    login_as(user=officer_of(data))
    page = text(client.get(f"/uptake/{data.id}", query_string={"period": "2026"}))
    bars = month_bars(page)
    truth = {"2026-09": 1, "2026-10": 7, "2026-11": 3}
    assert [month for month, _, _ in bars] == [f"2026-{m:02d}" for m in range(1, 12)]
    table = table_cells(page, "Verwijzingen ontvangen per maand")
    for month, width, shown in bars:
        # Rounded to a multiple of 5 that lies within 4 of the true count; "<5" when that is 0.
        assert rounds_to(shown, truth.get(month, 0)), (month, shown)
        # A bar only for a shown count: a withheld month has none.
        assert (width is not None and width > 0) == (shown != "<5")
        assert table[month] == shown  # the table says the same
    assert table["Totaal"] in ("10", "15")


def test_the_default_period_is_the_year_of_the_last_complete_month(
    db, client, login_as, data, monkeypatch
):
    from datetime import date

    from referrals.models import base

    login_as(user=officer_of(data))
    page = text(client.get(f"/uptake/{data.id}"))
    assert '<option selected value="2026">' in page
    assert "1 januari 2026 tot en met 30 november 2026" in page
    # In January the last complete month is December: the whole year before.
    monkeypatch.setattr(base, "local_today", lambda: date(2027, 1, 5))
    page = text(client.get(f"/uptake/{data.id}"))
    assert "1 januari 2026 tot en met 31 december 2026" in page
    # A programme whose first month is not over yet has no figures to show.
    data.starts_on = date(2027, 1, 2)
    db.session.flush()
    page = text(client.get(f"/uptake/{data.id}"))
    assert "zodra de eerste kalendermaand van het programma voorbij is" in page


def test_a_coordinators_free_period_defaults_to_the_last_twelve_calendar_months(
    db, client, login_as, data
):
    """Whole months (what the monthly summary answers): from the first of the month eleven
    months before the end, or the programme's start when that is later."""
    from datetime import date

    data.starts_on = date(2024, 1, 1)
    db.session.commit()
    login_as(user=data.coordinators[0])
    page = client.get(f"/uptake/{data.id}", query_string={"end": "2026-11-15"}).get_data(
        as_text=True
    )
    start = re.search(r'<input[^>]*name="start"[^>]*>', page).group(0)
    assert 'value="2025-12-01"' in start
    data.starts_on = date(2026, 3, 15)
    db.session.commit()
    page = client.get(f"/uptake/{data.id}", query_string={"end": "2027-01-31"}).get_data(
        as_text=True
    )
    start = re.search(r'<input[^>]*name="start"[^>]*>', page).group(0)
    assert 'value="2026-03-15"' in start
