"""The officer's dashboard and exports: aggregates only, small counts withheld, audited."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from openpyxl import load_workbook

from referrals.models import AuditAction, AuditEvent, Organisation, OrganisationKind, Role
from tests import factories
from tests.helpers import text
from tests.test_uptake import data  # noqa: F401 - the hand-built data set as a fixture

PERIOD = {"start": "2026-10-01", "end": "2026-11-30"}


def officer_of(programme):
    return factories.make_user(role=Role.OFFICER, organisation=programme.funder)


def test_the_officer_sees_the_figures_with_small_counts_withheld(client, login_as, data):
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


def test_a_period_that_ends_before_it_starts_is_explained(client, login_as, data):
    login_as(user=officer_of(data))
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
