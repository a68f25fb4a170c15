"""Separation for programme figures: a coordinator or officer of one municipality gets 404 for
every endpoint that takes another programme's id (or one of its reports), and the programme
query lists only their own programmes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import Report, ReportJob, ReportJobState, ReportKind, Role, utcnow
from referrals.permissions import programmes_visible_to
from referrals.services.uptake import periods
from tests import factories
from tests.helpers import text

FIGURE_ROLES = (Role.COORDINATOR, Role.OFFICER)


class Side:
    def __init__(self, name: str, areas: str, postcode: str):
        self.world = factories.make_world(name=name, areas=areas, therapist=False)
        self.programme = self.world.programme
        self.coordinator = self.world.coordinator
        self.officer = factories.make_user(role=Role.OFFICER, organisation=self.world.municipality)
        factories.make_referral(programme=self.programme, referrer=self.world.gp, postcode=postcode)
        self.report = Report(
            kind=ReportKind.PROGRESS,
            created_at=utcnow(),
            programme=self.programme,
            params={"version": 1},
            filename=f"voortgang-{name}.pdf",
            sha256="0" * 64,
            pdf=b"%PDF-1.7\n",
        )
        db.session.add(self.report)
        whole = periods.find(self.programme, "all")  # a fixed period, as every report has
        self.failed_job = ReportJob(
            programme=self.programme,
            period_start=whole.start,
            period_end=whole.end,
            requested_at=utcnow(),
            state=ReportJobState.FAILED,
            attempts=3,
        )
        db.session.add(self.failed_job)
        db.session.flush()

    def user(self, role: Role):
        return self.coordinator if role is Role.COORDINATOR else self.officer

    def ids(self) -> dict:
        return {
            "programme_id": self.programme.id,
            "report_id": self.report.id,
            "job_id": self.failed_job.id,
            "kind": "csv",
        }


@pytest.fixture
def sides(db):
    return Side("Noord", "2200-2299", "2201 AB"), Side("Oost", "8200-8299", "8211 CD")


def programme_urls(app, ids: dict, role: Role | None = None) -> list[tuple[str, str, str]]:
    """Every endpoint open to coordinators or officers (or to `role`, one of them) that names
    a programme or report."""
    from flask import url_for

    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not {"programme_id", "report_id"} & set(rule.arguments):
                continue
            allowed = getattr(app.view_functions[rule.endpoint], "allowed_roles", frozenset())
            if not set(FIGURE_ROLES if role is None else [role]) & allowed:
                continue
            values = {arg: ids[arg] for arg in rule.arguments}
            for method in sorted(rule.methods & {"GET", "POST"}):
                urls.append((rule.endpoint, method, url_for(rule.endpoint, **values)))
    return urls


def test_the_probe_covers_the_uptake_endpoints(app, sides):
    endpoints = {endpoint for endpoint, _, _ in programme_urls(app, sides[0].ids())}
    assert {
        "uptake.dashboard",
        "uptake.export",
        "uptake.request_report",
        "uptake.request_again",
        "uptake.report_pdf",
        "uptake.need",
    } <= endpoints


@pytest.mark.parametrize("role", FIGURE_ROLES, ids=lambda r: r.value)
def test_other_municipalitys_programme_and_reports_are_404(app, db, login_as, sides, role):
    for mine, theirs in (sides, reversed(sides)):
        client = app.test_client()
        login_as(user=mine.user(role), into=client)
        for endpoint, method, url in programme_urls(app, theirs.ids(), role):
            data = {"period": "all"} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            assert response.status_code == 404, (role, endpoint, method, url)
        for endpoint, method, url in programme_urls(app, mine.ids(), role):
            if method == "GET" and endpoint != "uptake.report_pdf":
                # The downloads are of a fixed period: here the programme to date.
                query = {"period": "all"} if endpoint == "uptake.export" else None
                response = client.open(url, method=method, query_string=query)
                assert response.status_code == 200, (role, endpoint, url)


@pytest.mark.parametrize("role", FIGURE_ROLES, ids=lambda r: r.value)
def test_the_programme_list_holds_only_ones_own_programmes(app, db, login_as, sides, role):
    noord, oost = sides
    assert db.session.scalars(programmes_visible_to(noord.user(role))).all() == [noord.programme]
    assert db.session.scalars(programmes_visible_to(oost.user(role))).all() == [oost.programme]
    client = app.test_client()
    login_as(user=noord.user(role), into=client)
    page = text(client.get("/uptake"))
    assert f"/uptake/{noord.programme.id}" in page
    assert f"/uptake/{oost.programme.id}" not in page


@pytest.mark.parametrize("role", [Role.REFERRER, Role.THERAPIST, Role.ADMIN])
def test_other_roles_see_no_programme_figures(db, sides, role):
    assert db.session.scalars(programmes_visible_to(factories.make_user(role=role))).all() == []


def test_a_coordinator_of_another_programme_of_the_same_municipality_sees_only_theirs(
    app, db, login_as, sides
):
    noord, _ = sides
    other = factories.make_user(role=Role.COORDINATOR, organisation=noord.world.municipality)
    second = factories.make_programme(
        funder=noord.world.municipality, coordinators=[other], name="Tweede programma Noord"
    )
    assert db.session.scalars(programmes_visible_to(other)).all() == [second]
    client = app.test_client()
    login_as(user=other, into=client)
    assert client.get(f"/uptake/{noord.programme.id}").status_code == 404
    assert client.get(f"/uptake/reports/{noord.report.id}").status_code == 404


def test_another_programmes_failed_job_is_not_asked_again_through_ones_own(
    app, db, login_as, sides
):
    """The job is looked up within the programme in the URL, not by its id alone."""
    noord, oost = sides
    client = app.test_client()
    login_as(user=noord.coordinator, into=client)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(ReportJob))
    response = client.post(f"/uptake/{noord.programme.id}/reports/{oost.failed_job.id}/again")
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportJob)) == before
    again = client.post(f"/uptake/{noord.programme.id}/reports/{noord.failed_job.id}/again")
    assert again.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportJob)) == before + 1
