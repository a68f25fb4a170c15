"""End to end in Chromium: the Noordwijk welfare officer follows the programme's uptake.

Six referrals into the Noordwijk programme are set up through the intake service (committed
in the live server's database), on top of whatever the demo data holds: five from
Huisartsenpraktijk De Duinen, one from Het Bos. The
officer of Gemeente Noordwijk reaches the uptake pages from the main menu, opens the
programme's dashboard and sees the key figures and the charts; chooses a period with the
filter form (one of the fixed periods: the referrals are dated in the last complete month);
downloads the figures as XLSX and CSV; asks for a PDF report, which the test
renders in the live server's app context as the worker would, and downloads it. Another
municipality's programme is a 404 for her. axe-core checks every page on the way.

The live server (its own, on a freshly loaded database), Chromium and the helpers come from
tests/browser/conftest.py and support.py. Each demo account logs in only once in this module:
a TOTP code is accepted once per account.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from flask_babel import force_locale, format_date
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from referrals.extensions import db
from referrals.models import Pc4Area, Programme, Referral, User
from referrals.services.referrals.intake import ParticipantDetails, ReferralDetails, submit_referral
from referrals.services.therapists.geo import load_pc4_areas
from referrals.services.uptake import periods, programme_report, programme_uptake, uptake_view
from tests.browser.support import (
    LiveServer,
    account,
    assert_accessible,
    log_in,
    path_of,
)

NOORDWIJK_OFFICER = "welzijn@noordwijk.example"
GP = "huisarts@deduinen.example"
POH = "poh@hetbos.example"
PROGRAMME = "Runningtherapie op recept Noordwijk"
OTHER_PROGRAMME = "Welzijn op recept Lelystad: in beweging"

# Five referrals from De Duinen and one from Het Bos: six received last month, Het Bos's count
# rounded to "<5" or 5 in it.
REFERRALS = [
    (GP, "Maud", "Kwakernaak", "2201 AB"),
    (GP, "Sem", "Oudshoorn", "2202 LN"),
    (GP, "Noor", "Terhorst", "2203 AA"),
    (GP, "Daan", "Zeegers", "2204 BB"),
    (GP, "Lieke", "Valkenburg", "2210 AC"),
    (POH, "Bram", "Hoogeveen", "2211 AD"),
]


@dataclass(frozen=True)
class Setup:
    programme_id: int
    other_programme_id: int
    period: str  # the period the officer chooses: the last complete month
    start: date
    end: date
    received_by_default: str  # referrals received in the default period (this year), as shown
    received_in_period: str  # and in the chosen period


@pytest.fixture(scope="module")
def setup(live_server: LiveServer) -> Setup:
    """Six referrals into the Noordwijk programme, committed in the live database."""
    with live_server.app.app_context():
        try:
            load_pc4_areas()  # the postcode centres, as `make run` loads them: the map's dots
            programme = db.session.scalar(sa.select(Programme).where(Programme.name == PROGRAMME))
            other = db.session.scalar(sa.select(Programme).where(Programme.name == OTHER_PROGRAMME))
            for number, (email, first_name, last_name, postcode) in enumerate(REFERRALS):
                referrer = db.session.scalar(sa.select(User).where(User.email == email))
                submit_referral(
                    referrer=referrer,
                    programme=programme,
                    participant=ParticipantDetails(
                        first_name=first_name,
                        last_name=last_name,
                        date_of_birth=date(1980 + number, 3, 10),
                        postcode=postcode,
                        phone=f"06 1234567{number}",
                    ),
                    details=ReferralDetails(
                        reasons=["stress"],
                        description="Wil weer in beweging komen.",
                        preferred_form="group",
                        preferred_days=["tue"],
                        consent_to_refer=True,
                    ),
                )
                db.session.flush()
            # Dated in the last complete month: the officer's periods end there.
            month = next(p for p in periods.available(programme) if p.kind == periods.MONTH)
            for referral in db.session.scalars(
                sa.select(Referral)
                .where(Referral.programme_id == programme.id)
                .order_by(Referral.id.desc())
                .limit(len(REFERRALS))
            ):
                referral.submitted_at = datetime.combine(
                    month.start + timedelta(days=9), time(10), UTC
                )
            db.session.commit()
            # The demo data may hold referrals of its own: the figures the page should show
            # come from the uptake service, on the live database, rounded as the page rounds.
            default = periods.default(programme)
            with live_server.app.test_request_context():
                shown = [
                    uptake_view.protected(programme_uptake(programme, p.start, p.end)).key_figures[
                        0
                    ][1]
                    for p in (default, month)
                ]
            return Setup(programme.id, other.id, month.key, month.start, month.end, *shown)
        finally:
            db.session.remove()


def long_date(live_server: LiveServer, day: date) -> str:
    """`day` as the dashboard shows it, in the default language."""
    with (
        live_server.app.test_request_context(),
        force_locale(live_server.app.config["BABEL_DEFAULT_LOCALE"]),
    ):
        return format_date(day, "long")


def period_path(setup: Setup) -> str:
    return f"/uptake/{setup.programme_id}?period={setup.period}"


@pytest.fixture(scope="module")
def officer_page(open_page: Callable[[], Page], setup: Setup, axe: Axe) -> Page:
    """The officer logs in, takes the menu to the uptake list and opens her programme."""
    page = open_page()
    log_in(page, axe, account(NOORDWIJK_OFFICER))

    page.locator('header nav a[href="/uptake"]').click()
    expect(page).to_have_url(re.compile(r"/uptake$"))
    expect(page.locator('header nav a[href="/uptake"]')).to_have_attribute("aria-current", "page")
    programmes = page.locator("main ul.link-list a")
    expect(programmes).to_have_count(1)
    expect(programmes).to_have_text(PROGRAMME)
    expect(page.locator("main")).not_to_contain_text(OTHER_PROGRAMME)
    assert_accessible(axe, page)

    programmes.click()
    expect(page).to_have_url(re.compile(rf"/uptake/{setup.programme_id}$"))
    expect(page.locator("main h1")).to_have_text(PROGRAMME)
    return page


def test_officer_sees_the_key_figures_and_the_charts(
    officer_page: Page, live_server: LiveServer, setup: Setup, axe: Axe
):
    page = officer_page
    assert path_of(page) == f"/uptake/{setup.programme_id}"
    figures = page.locator("main dl.key-figures")
    expect(figures.locator("dt")).to_have_count(8)
    expect(figures.locator("dt").first).to_have_text(live_server.translate("Referrals received"))
    expect(figures.locator("dd").first).to_have_text(setup.received_by_default)

    charts = page.locator("main figure.chart svg[role=img]")
    expect(charts).to_have_count(3)  # by month, the funnel, the map of the postcode areas
    by_month = live_server.translate("Referrals received by month")
    chart = charts.first
    expect(chart.locator("title")).to_have_text(by_month)
    expect(chart).to_have_attribute("aria-labelledby", re.compile(r"\S+-title \S+-desc"))
    expect(page.locator("main figure.chart figcaption").first).to_have_text(by_month)

    # Aggregates only: no participant's name.
    main = page.locator("main")
    for _email, _first_name, last_name, _postcode in REFERRALS:
        expect(main).not_to_contain_text(last_name)
    assert_accessible(axe, page)


@pytest.fixture(scope="module")
def period_page(officer_page: Page, setup: Setup) -> Page:
    """The officer chooses the last complete month with the filter form."""
    page = officer_page
    page.goto(f"/uptake/{setup.programme_id}")
    form = page.locator("main form.filter")
    form.locator("select[name=period]").select_option(setup.period)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(period_path(setup))}$"))
    return page


def test_officer_chooses_a_period(
    period_page: Page, live_server: LiveServer, setup: Setup, axe: Axe
):
    page = period_page
    form = page.locator("main form.filter")
    expect(form.locator("select[name=period]")).to_have_value(setup.period)
    expect(form.locator("input[name=start]")).to_have_count(0)  # no free dates for officers
    lead = page.locator("main p.lead")
    expect(lead).to_contain_text(long_date(live_server, setup.start))
    expect(lead).to_contain_text(long_date(live_server, setup.end))
    # The downloads and the report request carry the chosen period.
    for kind in ("xlsx", "csv"):
        link = page.locator(f'main a[href^="/uptake/{setup.programme_id}/export.{kind}?"]')
        expect(link).to_have_attribute("href", re.compile(rf"period={setup.period}$"))
    report_form = page.locator(f'main form[action="/uptake/{setup.programme_id}/reports"]')
    expect(report_form.locator("input[name=period]")).to_have_value(setup.period)
    expect(page.locator("main dl.key-figures dd").first).to_have_text(setup.received_in_period)
    # That month Het Bos sent one referral (the demo's earlier ones lie in earlier months):
    # rounded, it shows as "<5" or 5, never as 1.
    organisations = page.locator(
        "main table.data tbody tr", has=page.locator("th", has_text="Huisartsenpraktijk Het Bos")
    )
    expect(organisations.locator("td")).to_have_text(re.compile(r"^(<5|5)$"))
    expect(page.locator("main p.figures-rules")).to_be_visible()
    assert_accessible(axe, page)


def test_officer_downloads_the_figures_as_xlsx_and_csv(
    period_page: Page, live_server: LiveServer, setup: Setup
):
    page = period_page
    page.goto(period_path(setup))
    filename = f"deelname-{setup.programme_id}-{setup.period}"
    by_month = live_server.translate("Referrals received by month")

    with page.expect_download() as download_info:
        page.locator(f'main a[href^="/uptake/{setup.programme_id}/export.xlsx?"]').click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == f"{filename}.xlsx"
    # Playwright stores a download under a name without extension: openpyxl gets the bytes.
    workbook = load_workbook(io.BytesIO(download.path().read_bytes()))
    about, months = live_server.translate("About these figures"), live_server.translate("By month")
    assert workbook.sheetnames[:2] == [about, months]
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert cells
    assert all(cell.data_type != "f" for cell in cells)
    assert "<5" in [cell.value for cell in cells]  # reasons nobody had, at least

    with page.expect_download() as download_info:
        page.locator(f'main a[href^="/uptake/{setup.programme_id}/export.csv?"]').click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == f"{filename}.csv"
    with open(download.path(), encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(io.StringIO(file.read()), delimiter=";"))
    assert rows[0] == [by_month]
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert "<5" in cells
    for _email, _first_name, last_name, _postcode in REFERRALS:
        assert not any(last_name in cell for cell in cells)


def test_officer_asks_for_a_pdf_report_and_downloads_it(
    period_page: Page, live_server: LiveServer, setup: Setup, axe: Axe
):
    page = period_page
    page.goto(period_path(setup))
    expect(page.locator("main #reports ~ table.data")).to_have_count(0)
    report_form = page.locator(f'main form[action="/uptake/{setup.programme_id}/reports"]')
    expect(report_form.locator("button[type=submit]")).to_have_text(
        live_server.translate("Make a PDF report of this period")
    )
    report_form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(period_path(setup))}#reports$"))
    expect(page.locator("main .flash-messages")).to_be_visible()
    rows = page.locator("main #reports ~ table.data tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(2)).to_have_text(live_server.translate("waiting"))
    expect(rows.locator("a")).to_have_count(0)
    assert_accessible(axe, page)

    # The worker's part, in the live server's app context.
    with live_server.app.test_request_context():
        try:
            assert programme_report.run_due_jobs() == 1
        finally:
            db.session.remove()

    page.reload()
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(2)).to_have_text(live_server.translate("ready"))
    expect(rows.locator("td").first).to_contain_text(long_date(live_server, setup.start))
    link = rows.locator('a[href^="/uptake/reports/"]')
    expect(link).to_have_count(1)
    assert_accessible(axe, page)

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".pdf")
    reader = PdfReader(download.path())
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    assert PROGRAMME in text


def test_officer_gets_404_for_another_municipalitys_programme(
    officer_page: Page, live_server: LiveServer, setup: Setup, axe: Axe
):
    page = officer_page
    for path in (
        f"/uptake/{setup.other_programme_id}",
        f"/uptake/{setup.other_programme_id}?period={setup.period}",
    ):
        response = page.goto(path)
        assert response is not None and response.status == 404
        expect(page.locator("main h1")).to_have_text(live_server.translate("Page not found"))
        expect(page.locator("main")).not_to_contain_text(OTHER_PROGRAMME)
    assert_accessible(axe, page)


def test_officer_enters_the_need_and_sees_the_reach(
    officer_page: Page, live_server: LiveServer, setup: Setup, axe: Axe
):
    """From the dashboard to the need form: a typo is explained next to its field and kept,
    then the corrected figures show in the reach table."""
    page = officer_page
    page.goto(f"/uptake/{setup.programme_id}")
    page.locator(f'main a[href="/uptake/{setup.programme_id}/need"]').click()
    expect(page).to_have_url(re.compile(rf"/uptake/{setup.programme_id}/need$"))
    assert_accessible(axe, page)
    residents = page.locator("#adult_residents")
    residents.fill("dertigduizend")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#adult_residents-error")).to_be_visible()
    expect(residents).to_have_value("dertigduizend")
    expect(residents).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page)
    residents.fill("30000")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/uptake/{setup.programme_id}$"))
    reach = page.locator(
        "main table.data",
        has=page.locator(
            "caption", has_text=live_server.translate("Reach against the need in the area")
        ),
    )
    row = reach.locator(
        "tbody tr",
        has=page.locator("th", has_text=live_server.translate("Adult residents of the area")),
    )
    expect(row.locator("td").first).to_have_text("30.000")
    # The map of the programme's postcode areas: a dot for each of its PC4 areas with a known
    # centre (2200-2204 and 2210-2211; PO-box codes such as 2200 have none).
    with live_server.app.app_context():
        try:
            known = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Pc4Area)
                .where(sa.or_(Pc4Area.pc4.between(2200, 2204), Pc4Area.pc4.between(2210, 2211)))
            )
        finally:
            db.session.remove()
    assert known >= 4
    expect(page.locator('main figure.chart svg[id^="map-"] circle.area')).to_have_count(known)
