"""The funder's PDF report: the dashboard's figures read back from the PDF, a stored snapshot
whose bytes and hash stay the same, versions, and hostile names that fetch nothing."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa
from flask_babel import gettext as _
from pypdf import PdfReader

from referrals.models import Report
from referrals.services.uptake import (
    FUNNEL,
    InstrumentOutcome,
    Uptake,
    Wait,
    months_of,
    programme_report,
    uptake_view,
)
from referrals.services.uptake.programme_report import generate_programme_report
from tests.test_uptake import END, START, data  # noqa: F401 - the hand-built data set


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_report_says_what_the_dashboard_says(app, db, data):
    with app.test_request_context():
        report = generate_programme_report(data, START, END, actor=None)
    content = pdf_text(report.pdf)
    assert data.name in content
    assert "1 oktober 2026" in content and "30 november 2026" in content
    # 6 sessions x € 45,00, rounded as the officer sees it: 5 or 10 sessions.
    assert "€ 225,00" in content or "€ 450,00" in content
    assert "€ 270,00" not in content  # the exact cost would give the exact count away
    assert "Willekeurig afronden op vijftallen" in " ".join(content.split())
    assert "Visser" not in content and "Sleeps badly" not in content
    assert report.sha256 == hashlib.sha256(report.pdf).hexdigest()
    assert report.params["version"] == 1 and report.params["start"] == "2026-10-01"
    reader = PdfReader(io.BytesIO(report.pdf))
    assert 2 <= len(reader.pages) < 15
    assert "pdfaid" in reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()


def test_generating_again_makes_a_new_version_and_keeps_the_old_one(app, db, data):
    with app.test_request_context():
        first = generate_programme_report(data, START, END, actor=None)
        second = generate_programme_report(data, START, END, actor=None)
    assert (first.params["version"], second.params["version"]) == (1, 2)
    assert first.filename != second.filename
    stored = db.session.scalars(sa.select(Report).order_by(Report.id)).all()
    assert [r.sha256 for r in stored] == [first.sha256, second.sha256]


def test_a_stored_report_cannot_be_changed(app, db, data):
    with app.test_request_context():
        report = generate_programme_report(data, START, END, actor=None)
    with pytest.raises(sa.exc.DBAPIError), db.session.begin_nested():
        db.session.execute(sa.update(Report).where(Report.id == report.id).values(sha256="0"))


@pytest.mark.parametrize(
    "name",
    [
        '<img src="file:///etc/passwd">',
        "Noord</title><style>@import url(http://127.0.0.1:9/x);</style>",
        'Programma"; background: url(http://127.0.0.1:9/x); "',
    ],
)
def test_hostile_names_are_text_and_nothing_is_fetched(app, db, data, monkeypatch, name):
    from referrals import pdf as pdf_module

    fetched = []
    original = pdf_module.safe_fetcher

    def spy(url):
        fetched.append(url)
        return original(url)

    monkeypatch.setattr(pdf_module, "safe_fetcher", spy)
    data.name = name
    data.funder.name = name
    db.session.flush()
    with app.test_request_context():
        report = generate_programme_report(data, date(2026, 10, 1), date(2026, 11, 30), actor=None)
    assert fetched == []
    assert "<img" in pdf_text(report.pdf) or "url(" in pdf_text(report.pdf)


def long_uptake(programme, start, end, organisations: int) -> Uptake:
    """Figures for a programme with many months and referrers, all counts large enough to
    show: a report of several pages, whose breaks move with `organisations`."""
    months = {month: 7 + n % 5 for n, month in enumerate(months_of(start, end))}
    referrers = {f"Huisartsenpraktijk {n} aan de Duinweg": 5 + n for n in range(organisations)}
    return Uptake(
        programme_id=programme.id,
        start=start,
        end=end,
        received=sum(months.values()),
        by_month=months,
        by_organisation=referrers,
        by_organisation_kind={"gp_practice": sum(referrers.values())},
        by_reason={"stress": 40, "low_mood": 30},
        funnel={stage: 50 for stage in FUNNEL},
        dropout_reasons={"motivation": 9},
        wait_to_offer=Wait(20, 3, 6),
        attendance={"present": 100, "excused": 10, "absent": 7},
        sessions_delivered=100,
        funded_places=40,
        tariff_cents=4500,
        budget_cents=40 * 12 * 4500,
        outcomes=[
            InstrumentOutcome(
                "k10", "K10", False, 20, -3.0, 8, {"high": 10, "moderate": 10}, {"high": 15}
            )
        ],
    )


FOOTER = re.compile(r"^pagina \d+ van \d+$")


# Each layout once put a caption or a heading last on a page before the break rules: with 30
# months, captions (of the referrers, costs, ... tables); with 42, the month chart no longer
# fits under the key figures and left its section heading behind (and was taller than a page:
# such a period gets a chart per year).
@pytest.mark.parametrize(
    ("start", "organisations"),
    [(date(2024, 1, 1), 3), (date(2024, 1, 1), 8), (date(2024, 1, 1), 14), (date(2023, 1, 1), 10)],
)
def test_no_page_ends_with_a_heading_or_a_caption(app, db, data, monkeypatch, start, organisations):
    end = date(2026, 6, 30)

    def figures(programme, start, end):
        return long_uptake(programme, start, end, organisations)

    monkeypatch.setattr(programme_report, "programme_uptake", figures)
    with app.test_request_context():
        view = uptake_view.build(figures(data, start, end))
        headings = {
            _("Key figures"),
            _("How these figures are made"),
            *(section.title for section in view.sections),
            *(table.title for table in view.tables),
            *(chart.title for chart in view.charts),
        }
        report = generate_programme_report(data, start, end, actor=None)
    pages = PdfReader(io.BytesIO(report.pdf)).pages
    assert len(pages) >= 5
    last_lines = []
    for page in pages[:-1]:
        lines = [" ".join(line.split()) for line in page.extract_text().splitlines()]
        lines = [line for line in lines if line and not FOOTER.match(line)]
        last_lines.append(lines[-1])
    # A heading that wraps ends a page with its first line: a start of a heading counts too.
    alone = [
        line
        for line in last_lines
        if line in headings or any(h.startswith(line + " ") for h in headings)
    ]
    assert alone == [], last_lines
    # A chart is one picture: one taller than a page would be cut off at its foot.
    for chart in view.charts:
        box = re.search(r'viewBox="([^"]+)"', chart.svg)[1]
        width, height = (float(v) for v in box.split()[2:])
        assert height / width * PAGE_WIDTH_MM <= PAGE_HEIGHT_MM, chart.title


# A4 less the report's margins (18 mm top, 20 mm bottom, 16 mm each side) and a caption.
PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210 - 2 * 16, 297 - 18 - 20 - 10
