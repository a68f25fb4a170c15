"""Funder reports are queued by the page and rendered by the worker; a stored report always
downloads as the same bytes; a failed render leaves no report and says what failed."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from referrals.models import (
    AuditAction,
    AuditEvent,
    OrganisationKind,
    Report,
    ReportJob,
    ReportJobState,
    Role,
    utcnow,
)
from referrals.services import ServiceError
from referrals.services.uptake import programme_report
from tests import factories
from tests.helpers import text
from tests.test_uptake import data  # noqa: F401 - the hand-built data set

PERIOD = {"period": "2026-Q4"}  # 1 October to 30 November 2026 (the clock: 7 December)
DATES = ("2026-10-01", "2026-11-30")


def officer_of(programme):
    return factories.make_user(role=Role.OFFICER, organisation=programme.funder)


def test_the_page_queues_the_worker_renders_and_the_download_is_the_stored_file(
    app,
    db,
    client,
    login_as,
    data,
):
    login_as(user=officer_of(data))
    response = client.post(f"/uptake/{data.id}/reports", data=PERIOD)
    assert response.status_code == 302
    job = db.session.scalars(sa.select(ReportJob)).one()
    assert (
        job.state is ReportJobState.QUEUED
        and db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0
    )
    page = text(client.get(f"/uptake/{data.id}", query_string=PERIOD))
    assert "wacht" in page  # the job is listed as waiting

    with app.test_request_context():
        assert programme_report.run_due_jobs() == 1
    db.session.refresh(job)
    assert job.state is ReportJobState.DONE and job.report is not None
    page = text(client.get(f"/uptake/{data.id}", query_string=PERIOD))
    assert f"/uptake/reports/{job.report.id}" in page

    first = client.get(f"/uptake/reports/{job.report.id}")
    second = client.get(f"/uptake/reports/{job.report.id}")
    assert first.headers["Content-Type"] == "application/pdf"
    assert first.data == second.data == job.report.pdf
    assert hashlib.sha256(first.data).hexdigest() == job.report.sha256
    prints = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.PRINT)
    ).all()
    assert len(prints) == 2


def test_a_failed_render_is_tried_three_times_then_failed_and_can_be_asked_again(
    app, db, client, login_as, data, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer out of memory")

    monkeypatch.setattr(programme_report, "render_programme_report", broken)
    login_as(user=officer_of(data))
    client.post(f"/uptake/{data.id}/reports", data=PERIOD)
    job = db.session.scalars(sa.select(ReportJob)).one()
    states = []
    for _ in range(4):
        with app.test_request_context():
            programme_report.run_due_jobs()
        db.session.refresh(job)
        states.append((job.state, job.attempts))
    assert states == [
        (ReportJobState.QUEUED, 1),
        (ReportJobState.QUEUED, 2),
        (ReportJobState.FAILED, 3),
        (ReportJobState.FAILED, 3),  # a failed job is not taken again
    ]
    assert job.report_id is None and "renderer out of memory" in job.error
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0
    page = text(client.get(f"/uptake/{data.id}"))
    state_cell = re.search(r'<td class="job-state">(.*?)</td>', page).group(1)
    assert state_cell == "kon niet worden gemaakt (3 keer geprobeerd); de beheerder kan zien waarom"
    assert "renderer out of memory" not in page  # what went wrong stays in the job row

    monkeypatch.undo()
    again = client.post(f"/uptake/{data.id}/reports/{job.id}/again")
    assert again.status_code == 302
    queued = db.session.scalars(sa.select(ReportJob).where(ReportJob.id != job.id)).one()
    assert (queued.state, queued.period_start, queued.attempts) == (
        ReportJobState.QUEUED,
        job.period_start,
        0,
    )
    with app.test_request_context():
        assert programme_report.run_due_jobs() == 1
    db.session.refresh(queued)
    assert queued.state is ReportJobState.DONE and queued.report.version == 1


def test_only_a_failed_job_of_the_programme_can_be_asked_again(app, db, client, login_as, data):
    login_as(user=officer_of(data))
    client.post(f"/uptake/{data.id}/reports", data=PERIOD)
    job = db.session.scalars(sa.select(ReportJob)).one()
    answer = client.post(f"/uptake/{data.id}/reports/{job.id}/again")
    assert answer.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportJob)) == 1


def test_a_running_job_is_taken_again_only_after_its_lease(app, db, data):
    lease = timedelta(seconds=app.config["REPORT_JOB_LEASE_SECONDS"])
    with app.test_request_context():
        user = officer_of(data)
        job = programme_report.request_report(data, *map(_date, DATES), actor=user)
        db.session.commit()
        assert programme_report.claim(job.id) is True
        assert programme_report.claim(job.id) is False
        job.started_at = utcnow() - lease + timedelta(seconds=5)  # still within the lease
        db.session.commit()
        assert programme_report.claim(job.id) is False
        job.started_at = utcnow() - lease - timedelta(seconds=1)  # the worker died rendering
        db.session.commit()
        assert programme_report.claim(job.id) is True
        assert job.attempts == 2


def test_a_job_whose_worker_died_three_times_is_failed(app, db, client, login_as, data):
    lease = timedelta(seconds=app.config["REPORT_JOB_LEASE_SECONDS"])
    login_as(user=officer_of(data))
    with app.test_request_context():
        user = officer_of(data)
        job = programme_report.request_report(data, *map(_date, DATES), actor=user)
        db.session.commit()
        for _ in range(3):
            assert programme_report.claim(job.id) is True
            job.started_at = utcnow() - lease - timedelta(seconds=1)  # and then it died
            db.session.commit()
        assert programme_report.run_due_jobs() == 0
    db.session.refresh(job)
    assert (job.state, job.attempts) == (ReportJobState.FAILED, 3)
    assert job.error == "the render stopped 3 times without finishing"
    page = text(client.get(f"/uptake/{data.id}"))
    assert f'/uptake/{data.id}/reports/{job.id}/again"' in page


def _date(value):
    from datetime import date

    return date.fromisoformat(value)


@pytest.mark.parametrize(
    "period",
    [
        {"start": "2026-10-12", "end": "2026-12-02"},  # free dates: not a period
        {"period": "2026-12"},  # a month still running
        {"period": "2019"},  # before the programme
        {"period": "morgen"},
        {"period": ""},
    ],
)
def test_a_period_not_in_the_list_is_refused_not_queued(db, client, login_as, data, period):
    login_as(user=officer_of(data))
    response = client.post(f"/uptake/{data.id}/reports", data=period)
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportJob)) == 0
    assert "Kies eerst een van de perioden uit de lijst" in text(
        client.get(response.headers["Location"])
    )


def test_another_municipality_cannot_ask_for_or_read_the_reports(app, db, client, login_as, data):
    with app.test_request_context():
        report = programme_report.generate_programme_report(data, *map(_date, DATES), actor=None)
    other = factories.make_organisation(kind=OrganisationKind.MUNICIPALITY)
    login_as(user=factories.make_user(role=Role.OFFICER, organisation=other))
    assert client.get(f"/uptake/reports/{report.id}").status_code == 404
    assert client.post(f"/uptake/{data.id}/reports", data=PERIOD).status_code == 404


def test_without_a_worker_the_request_renders_the_report_itself(app, db, client, login_as, data):
    """Development (REPORTS_INLINE): the report is ready when the page comes back."""
    app.config["REPORTS_INLINE"] = True
    try:
        login_as(user=officer_of(data))
        response = client.post(f"/uptake/{data.id}/reports", data=PERIOD)
        assert response.status_code == 302
        job = db.session.scalars(sa.select(ReportJob)).one()
        assert job.state is ReportJobState.DONE and job.report is not None
        page = text(client.get(response.headers["Location"]))
        assert f"/uptake/reports/{job.report.id}" in page and "klaar" in page
    finally:
        app.config["REPORTS_INLINE"] = False


def test_a_report_of_free_dates_is_refused_also_when_asked_for_again(app, db, data):
    """A failed job of free dates (from before the fixed periods) is not queued again."""
    officer = officer_of(data)
    free = ReportJob(
        programme=data,
        period_start=_date("2026-10-12"),
        period_end=_date("2026-12-02"),
        requested_at=utcnow(),
        state=ReportJobState.FAILED,
        attempts=3,
    )
    db.session.add(free)
    db.session.flush()
    with pytest.raises(ServiceError, match="perioden uit de lijst"):
        programme_report.request_again(data, free.id, actor=officer)
    with pytest.raises(ServiceError):
        programme_report.request_report(
            data, _date("2026-10-13"), _date("2026-12-02"), actor=officer
        )
