"""Reach against need: the municipality's figures, entered by the officer or imported by the
admin, and the referrals set against them, by age and by postcode area, with the map.

The hand-built data set: eight referrals into a programme for PC4 2200-2299, received in
October 2026, by the participant's PC4 and age at referral:

    PC4   referrals   ages
    2201  5           25, 35, 35, 55, 70
    2202  2           45, 22
    2204  1           60

The need: 20,000 adult residents (CBS, 2025); K10 low 60,0 / moderate 28,6 / high 11,4 % (GGD
health monitor, 2022); residents per PC4: 2201 5,000 and 2202 4,000 (CBS, 2025).

Worked out by hand (the coordinator's exact figures):
- referrals per 10,000 adult residents: 8 / 20,000 x 10,000 = 4,0;
- adults at high risk: 20,000 x 11,4% = 2,280; referrals per 1,000 of them: 8 / 2,280 x 1,000
  = 3,5;
- PC4 2201: 5 / 5,000 x 1,000 = 1,0 per 1,000; 2202: 2 / 4,000 x 1,000 = 0,5; 2204: no
  residents entered, so no rate;
- by age: 18-29 two, 30-49 three, 50-64 two, 65+ one;
- K10 at intake (three participants measured: 32, 20, 12): high, moderate and low one each.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own output
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from referrals.models import (
    AuditAction,
    AuditEvent,
    FigureMark,
    Moment,
    OrganisationKind,
    Pc4Area,
    Pc4Residents,
    ProgrammeNeed,
    QuestionnaireResponse,
    Referral,
    Role,
    Trajectory,
    local_today,
)
from referrals.services.uptake import reach
from tests import factories
from tests.helpers import text
from tests.test_charts import SVG
from tests.test_uptake_suppression import page_tables, pdf_lines, rounds_to

PERIOD = {"period": "2026-10"}
PEOPLE = [
    ("2201 AB", 25),
    ("2201 AC", 35),
    ("2201 AD", 35),
    ("2201 AE", 55),
    ("2201 AF", 70),
    ("2202 AA", 45),
    ("2202 AB", 22),
    ("2204 AA", 60),
]
SUBMITTED = date(2026, 10, 12)


def born(age: int) -> date:
    """A birthday in March: `age` years old on the day of the referral."""
    return date(SUBMITTED.year - age, 3, 1)


@pytest.fixture
def area(db, reporting_today):
    world = factories.make_world(areas="2200-2299")
    programme = world.programme
    programme.starts_on = date(2026, 1, 1)
    programme.questionnaires = ["k10"]
    recorder = factories.make_user(role=Role.THERAPIST)
    scores = {0: (32, "high"), 1: (20, "moderate"), 5: (12, "low")}
    for number, (postcode, age) in enumerate(PEOPLE):
        referral = factories.make_referral(
            programme=programme, referrer=world.gp, postcode=postcode, date_of_birth=born(age)
        )
        referral.submitted_at = datetime(2026, 10, 12, 10, tzinfo=UTC)
        if number in scores:
            trajectory = Trajectory(
                referral=referral,
                therapist=world.therapist,
                started_at=referral.submitted_at + timedelta(days=2),
            )
            db.session.add(trajectory)
            score, band = scores[number]
            db.session.add(
                QuestionnaireResponse(
                    trajectory=trajectory,
                    instrument="k10",
                    moment=Moment.INTAKE,
                    taken_on=SUBMITTED,
                    answers={},
                    score=score,
                    category=band,
                    recorded_by=recorder,
                )
            )
    need = ProgrammeNeed(
        programme_id=programme.id,
        adult_residents=20_000,
        residents_source="CBS",
        residents_year=2025,
        k10_low_percent=60.0,
        k10_moderate_percent=28.6,
        k10_high_percent=11.4,
        k10_source="GGD-gezondheidsmonitor",
        k10_year=2022,
        pc4_source="CBS",
        pc4_year=2025,
    )
    need.pc4_residents = [
        Pc4Residents(pc4=2201, adult_residents=5000),
        Pc4Residents(pc4=2202, adult_residents=4000),
    ]
    db.session.add(need)
    db.session.flush()
    world.officer = factories.make_user(role=Role.OFFICER, organisation=world.municipality)
    return world


def rows_of(page: str, caption: str) -> dict[str, list[str]]:
    tables = page_tables(page)
    found = next(rows for title, rows in tables.items() if title.startswith(caption))
    return {row[0]: row[1:] for row in found}


def test_the_reach_against_need_worked_out_by_hand(client, login_as, area):
    login_as(user=area.coordinator)  # exact figures
    page = text(client.get(f"/uptake/{area.programme.id}", query_string=PERIOD))
    need = rows_of(page, "Bereik tegenover de behoefte in het gebied")
    assert need["Volwassen inwoners van het gebied"] == ["20.000", "CBS, 2025"]
    assert need["Verwijzingen ontvangen in de periode"][0] == "8"
    assert need["Verwijzingen per 10.000 volwassen inwoners"] == ["4,0", "CBS, 2025"]
    assert need["Volwassenen met een hoog risico (K10 van 30 of meer)"] == [
        "2.280",
        "GGD-gezondheidsmonitor, 2022",
    ]
    assert need["Verwijzingen per 1.000 volwassenen met een hoog risico"][0] == "3,5"
    ages = rows_of(page, "Verwijzingen naar leeftijd bij verwijzing")
    assert {band: cells[0] for band, cells in ages.items()} == {
        "18 tot en met 29": "2",
        "30 tot en met 49": "3",
        "50 tot en met 64": "2",
        "65 en ouder": "1",
        "Jonger dan 18 of onbekend": "0",
        "Totaal": "8",
    }
    areas = rows_of(page, "Verwijzingen naar postcodegebied (pc4)")
    by_pc4 = {label.split()[0]: cells for label, cells in areas.items()}
    assert by_pc4["2201"] == ["5", "5.000", "1,0"]
    assert by_pc4["2202"] == ["2", "4.000", "0,5"]
    assert by_pc4["2204"] == ["1", "–", "–"]
    # Always there, also with nobody from elsewhere: a row of its own would give a count away.
    assert areas["Elders (buiten het gebied, of zonder bekend midden)"] == ["0", "–", "–"]
    k10 = rows_of(page, "K10 bij de intake tegenover de gemeente")
    assert k10["Hoog (30-50)"] == ["1", "33%", "11,4%"]
    assert k10["Laag (10-15)"] == ["1", "33%", "60,0%"]


def test_the_officer_sees_the_rates_of_the_rounded_counts(client, login_as, area):
    login_as(user=area.officer)
    page = text(client.get(f"/uptake/{area.programme.id}", query_string=PERIOD))
    need = rows_of(page, "Bereik tegenover de behoefte in het gebied")
    shown = need["Verwijzingen ontvangen in de periode"][0]
    assert rounds_to(shown, 8)
    rate = int(shown) / 20_000 * 10_000
    assert need["Verwijzingen per 10.000 volwassen inwoners"][0] == f"{rate:.1f}".replace(".", ",")
    areas = rows_of(page, "Verwijzingen naar postcodegebied (pc4)")
    for label, (count, *_rest) in areas.items():
        truth = {"2201": 5, "2202": 2, "2204": 1}.get(label.split()[0], 0)
        assert rounds_to(count, truth), (label, count)


def map_of(page: str):
    svg = re.search(r'<svg[^>]*id="map-.*?</svg>', page, re.S).group(0)
    return svg, ET.fromstring(svg)  # noqa: S314 - our own output


def test_the_map_has_a_title_a_description_and_a_dot_per_postcode_area(db, client, login_as, area):
    login_as(user=area.coordinator)
    page = client.get(f"/uptake/{area.programme.id}", query_string=PERIOD).get_data(as_text=True)
    svg, root = map_of(page)
    assert root.find(f"{SVG}title").text == "Verwijzingen naar postcodegebied"
    assert "per 1.000 volwassen inwoners" in root.find(f"{SVG}desc").text
    known = db.session.scalars(
        sa.select(Pc4Area.pc4).where(Pc4Area.pc4.between(2200, 2299)).order_by(Pc4Area.pc4)
    ).all()
    dots = root.findall(f"{SVG}circle")
    assert len(dots) == len(known) >= 5
    titles = [dot.find(f"{SVG}title").text for dot in dots]
    assert [int(t.split()[0]) for t in titles] == known
    # Shaded by referrals per 1,000 residents: 2201 (1,0) darker than 2202 (0,5); 2204 has
    # no residents entered and gets an open dot, as do the areas without referrals.
    fill = {int(t.split()[0]): d.get("fill") for t, d in zip(titles, dots, strict=True)}
    assert fill[2201] == "#1e3a8a" and fill[2202] == "#3b82f6" and fill[2204] == "#ffffff"
    # Nothing from elsewhere: no link, image, font or stylesheet.
    assert not re.search(
        r"href|url\(|http:|https:|<image|@import",
        svg.replace('xmlns="http://www.w3.org/2000/svg"', ""),
    )


def test_a_national_programme_is_mapped_by_region(app, db, area):
    """An area of thousands of PC4s is grouped, so that the table and report stay short."""
    from referrals.services.uptake import programme_uptake
    from referrals.services.uptake.uptake_view import build

    area.programme.postcode_areas[0].pc4_to = 9999
    area.programme.postcode_areas[0].pc4_from = 1000
    db.session.flush()
    with app.test_request_context(), force_locale("en"):
        view = build(programme_uptake(area.programme, date(2026, 10, 1), date(2026, 10, 31)))
    table = next(t for t in view.tables if t.title.startswith("Referrals by postcode area"))
    assert 50 <= len(table.rows) <= 120
    assert table.rows[0][0].startswith("10xx")
    reach_map = next(c for c in view.charts if c.title == "Referrals by postcode area")
    # A dot per region of the table, but for the last row: everywhere else, not on the map.
    assert table.rows[-1][0] == "Elsewhere (outside the area, or no known centre)"
    assert reach_map.svg.count("<circle") == len(table.rows) - 1


# --- entering the need ---------------------------------------------------------------------

GOOD = {
    "adult_residents": "20.000",
    "residents_source": "CBS Kerncijfers wijken en buurten",
    "residents_year": "2025",
    "k10_low_percent": "60",
    "k10_moderate_percent": "28,6",
    "k10_high_percent": "11,4",
    "k10_source": "GGD Gezondheidsmonitor Volwassenen en Ouderen",
    "k10_year": "2022",
    "pc4_residents": "2201;5400\n2202;3900\n",
    "pc4_source": "CBS",
    "pc4_year": "2025",
}


def need_page(client, programme_id, data=None):
    url = f"/uptake/{programme_id}/need"
    return client.post(url, data=data) if data is not None else client.get(url)


def test_the_officer_enters_the_need_and_the_dashboard_uses_it(db, client, login_as, area):
    db.session.delete(db.session.get(ProgrammeNeed, area.programme.id))
    db.session.flush()
    login_as(user=area.officer)
    assert need_page(client, area.programme.id).status_code == 200
    response = need_page(client, area.programme.id, GOOD)
    assert response.status_code == 302
    need = reach.load_need(area.programme.id)
    assert (need.adult_residents, need.residents_year) == (20_000, 2025)
    assert need.k10_percent == {"low": 60.0, "moderate": 28.6, "high": 11.4}
    assert need.pc4_residents == {2201: 5400, 2202: 3900}
    audit = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.UPDATE, AuditEvent.detail.contains("need")
        )
    ).one()
    assert audit.participant_id is None
    page = text(client.get(f"/uptake/{area.programme.id}", query_string=PERIOD))
    need_rows = rows_of(page, "Bereik tegenover de behoefte in het gebied")
    assert need_rows["Volwassen inwoners van het gebied"] == [
        "20.000",
        "CBS Kerncijfers wijken en buurten, 2025",
    ]
    # The form shows what is stored, the Dutch way.
    form = text(need_page(client, area.programme.id))
    assert 'value="28,6"' in form and "2201;5400" in form


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"adult_residents": "twintigduizend"}, "adult_residents", "Vul een heel getal"),
        ({"adult_residents": "0"}, "adult_residents", "Vul een heel getal"),
        ({"k10_high_percent": "111"}, "k10_high_percent", "Vul een aandeel van 0 tot 100"),
        ({"k10_high_percent": "20"}, "k10_high_percent", "samen 100%"),
        ({"k10_low_percent": ""}, "k10_low_percent", "alle drie de aandelen"),
        ({"residents_source": ""}, "residents_source", "waar dit cijfer vandaan komt"),
        ({"k10_year": ""}, "k10_year", "het jaar van dit cijfer"),
        ({"k10_year": str(local_today().year + 1)}, "k10_year", "een jaar in tot en met"),
        ({"pc4_residents": "2201;5400\nNoordwijk;12\n2201;3"}, "pc4_residents", "Regel 2, 3"),
    ],
)
def test_bad_need_figures_are_explained_next_to_the_field_and_nothing_is_saved(
    db, client, login_as, area, changes, field, message
):
    before = reach.load_need(area.programme.id)
    login_as(user=area.officer)
    response = need_page(client, area.programme.id, {**GOOD, **changes})
    assert response.status_code == 200
    page = text(response)
    error = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error is not None and message in error.group(1), (field, page[:0])
    typed = changes[field]
    if typed and field != "pc4_residents":
        assert f'value="{typed}"' in page  # what was typed is kept
    elif typed:
        assert "Noordwijk;12" in page
    assert reach.load_need(area.programme.id) == before


def test_an_officer_of_another_municipality_gets_404_for_the_need(client, login_as, area):
    other = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    login_as(user=factories.make_user(role=Role.OFFICER, organisation=other))
    assert need_page(client, area.programme.id).status_code == 404
    assert need_page(client, area.programme.id, GOOD).status_code == 404
    assert client.get(f"/uptake/{area.programme.id}").status_code == 404


# --- the admin's CSV import ----------------------------------------------------------------

HEADER = ";".join(reach.CSV_COLUMNS) + "\n"


def upload(client, content: str):
    return client.post(
        "/uptake/need-import",
        data={"file": (io.BytesIO(("\ufeff" + content).encode()), "behoefte.csv")},
        content_type="multipart/form-data",
    )


def test_the_admin_imports_the_need_of_several_programmes(db, client, login_as, area):
    second = factories.make_programme(funder=area.municipality)
    login_as(user=factories.make_user(role=Role.ADMIN))
    response = upload(
        client,
        HEADER
        + f"{area.programme.id};21000;CBS;2025;61;28;11;GGD;2022\n"
        + f"{second.id};8000;CBS;2025;;;;;\n",
    )
    assert response.status_code == 302
    first = reach.load_need(area.programme.id)
    assert first.adult_residents == 21_000 and first.k10_percent["high"] == 11.0
    assert first.pc4_residents == {2201: 5000, 2202: 4000}  # kept
    assert reach.load_need(second.id).adult_residents == 8000


def test_a_csv_with_a_bad_row_saves_nothing_and_names_the_row(db, client, login_as, area):
    before = reach.load_need(area.programme.id)
    login_as(user=factories.make_user(role=Role.ADMIN))
    response = upload(
        client,
        HEADER + f"{area.programme.id};21000;CBS;2025;61;28;11;GGD;2022\n999999;veel;;;;;;;\n",
    )
    assert response.status_code == 200
    page = text(response)
    assert "rij 3" in page and "inwoners_18plus is geen getal" in page
    assert reach.load_need(area.programme.id) == before
    response = upload(client, "naam;inwoners\nNoordwijk;3\n")
    assert "Kolommen ontbreken" in text(response)


def test_a_correction_of_a_participants_postcode_marks_the_month_to_count_again(db, area):
    db.session.execute(sa.delete(FigureMark))
    referral = db.session.scalars(sa.select(Referral)).first()
    referral.participant.postcode = "2202 ZZ"
    db.session.flush()
    marks = db.session.scalars(
        sa.select(FigureMark.day).where(FigureMark.programme_id == area.programme.id)
    ).all()
    assert marks and set(marks) == {date(2026, 10, 12)}


def test_the_report_has_the_reach_page(app, area):
    from referrals.services.uptake.programme_report import generate_programme_report

    with app.test_request_context():
        report = generate_programme_report(
            area.programme, date(2026, 10, 1), date(2026, 10, 31), actor=None
        )
    lines = pdf_lines(report.pdf)
    joined = " ".join(lines)
    assert "Bereik" in lines
    assert "Volwassen inwoners van het gebied 20.000 CBS, 2025" in joined


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("99999999999999999999;21000;CBS;2025;61;28;11;GGD;2022", "programma_id valt buiten"),
        ("{id};nan;CBS;2025;61;28;11;GGD;2022", "inwoners_18plus is geen getal"),
        ("{id};21000;CBS;2025;nan;28;11;GGD;2022", "k10_laag valt buiten"),
        ("{id};21000;CBS;2025;;;50;GGD;2022", "alle drie de K10-aandelen"),
        ("{id};21000;CBS;2025;50;30;30;GGD;2022", "samen 100"),
        ("{id};21000;;;61;28;11;GGD;2022", "bron_inwoners, jaar_inwoners"),
    ],
)
def test_a_bad_csv_row_is_named_and_nothing_is_saved(db, client, login_as, area, row, message):
    before = reach.load_need(area.programme.id)
    login_as(user=factories.make_user(role=Role.ADMIN))
    response = upload(client, HEADER + row.format(id=area.programme.id) + "\n")
    assert response.status_code == 200
    assert message in text(response)
    assert reach.load_need(area.programme.id) == before


def test_without_residents_per_area_the_table_has_no_columns_of_dashes(app, db, area):
    from referrals.services.uptake import programme_uptake
    from referrals.services.uptake.uptake_view import build

    need = db.session.get(ProgrammeNeed, area.programme.id)
    need.pc4_residents = []
    db.session.flush()
    with app.test_request_context(), force_locale("en"):
        view = build(programme_uptake(area.programme, date(2026, 10, 1), date(2026, 10, 31)))
    table = next(t for t in view.tables if t.title == "Referrals by postcode area (PC4)")
    assert table.header == ["Postcode area", "Referrals"]
    assert {len(row) for row in table.rows} == {2}
    rows = {row[0].split()[0]: row[1].text for row in table.rows}
    assert (rows["2201"], rows["2202"], rows["2204"]) == ("5", "2", "1")


def test_reach_and_lasting_effect_each_start_a_page_of_the_report(app, area):
    from io import BytesIO

    from pypdf import PdfReader

    from referrals.services.uptake.programme_report import generate_programme_report

    with app.test_request_context():
        report = generate_programme_report(
            area.programme, date(2026, 10, 1), date(2026, 10, 31), actor=None
        )
    firsts = [
        (page.extract_text().splitlines() or [""])[0].strip()
        for page in PdfReader(BytesIO(report.pdf)).pages
    ]
    assert "Bereik" in firsts and "Blijvend effect" in firsts
