"""The funder's PDF progress report of one programme and period, kept as an immutable snapshot.

The report shows the same protected figures as the dashboard (services.uptake_view): key
figures, the charts, the tables and a note on method. Its length depends on the number of
months, organisations and questionnaires, never on the number of participants. Each
generation is a new version; the stored bytes are what every later download returns.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    Programme,
    Report,
    ReportJob,
    ReportJobState,
    ReportKind,
    User,
    utcnow,
)
from referrals.pdf import ARCHIVE_VARIANT, render_pdf
from referrals.services import ServiceError
from referrals.services.uptake import programme_uptake, uptake_view


def render_programme_report(programme: Programme, start: date, end: date, *, version: int):
    """The PDF bytes and the parameters they were made from."""
    view = uptake_view.build(programme_uptake(programme, start, end))
    made_at = utcnow()
    pdf = render_pdf(
        "programme_report.html",
        pdf_variant=ARCHIVE_VARIANT,
        programme=programme,
        start=start,
        end=end,
        view=view,
        version=version,
        made_at=made_at,
    )
    params = {
        "programme_id": programme.id,
        "programme_name": programme.name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "version": version,
    }
    return pdf, params, made_at


def generate_programme_report(
    programme: Programme, start: date, end: date, *, actor: User | None
) -> Report:
    """Render and store a new version; the caller commits. Nothing is stored when rendering
    fails, so a failed report leaves no half-written snapshot."""
    previous = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Report)
        .where(
            Report.kind == ReportKind.PROGRESS,
            Report.programme_id == programme.id,
            Report.period_start == start,
            Report.period_end == end,
        )
    )
    version = previous + 1
    pdf, params, made_at = render_programme_report(programme, start, end, version=version)
    report = Report(
        kind=ReportKind.PROGRESS,
        created_at=made_at,
        created_by=actor,
        programme=programme,
        period_start=start,
        period_end=end,
        params=params,
        filename=f"voortgang-{programme.id}-{start.isoformat()}-{end.isoformat()}-v{version}.pdf",
        sha256=hashlib.sha256(pdf).hexdigest(),
        pdf=pdf,
    )
    db.session.add(report)
    db.session.flush()
    audit.record(AuditAction.CREATE, actor=actor, obj=report, detail="programme progress report")
    return report


# Jobs: the web request only queues; the worker (`flask render-reports`) renders.
STALE_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 3


def request_report(programme: Programme, start: date, end: date, *, actor: User) -> ReportJob:
    """Queue a new version of the report; the caller commits."""
    if end < start:
        raise ServiceError(_("The end lies before the start."), "end")
    job = ReportJob(
        programme=programme,
        period_start=start,
        period_end=end,
        requested_by=actor,
        requested_at=utcnow(),
        state=ReportJobState.QUEUED,
    )
    db.session.add(job)
    db.session.flush()
    audit.record(AuditAction.CREATE, actor=actor, obj=job, detail="report requested")
    return job


def request_and_render(programme: Programme, start: date, end: date, *, actor: User) -> ReportJob:
    """Development, without a worker: queue the job, then render it at once as the worker
    would, with the worker's own commits (the job must be committed before it is claimed)."""
    job = request_report(programme, start, end, actor=actor)
    db.session.commit()
    if claim(job.id):
        run_job(job.id)
    return job


def claim(job_id: int) -> bool:
    """Take a queued (or stale running) job, atomically: one worker per job."""
    now = utcnow()
    result = db.session.execute(
        sa.update(ReportJob)
        .where(
            ReportJob.id == job_id,
            ReportJob.attempts < MAX_ATTEMPTS,
            sa.or_(
                ReportJob.state == ReportJobState.QUEUED,
                sa.and_(
                    ReportJob.state == ReportJobState.RUNNING,
                    ReportJob.started_at < now - STALE_AFTER,
                ),
            ),
        )
        .values(state=ReportJobState.RUNNING, started_at=now, attempts=ReportJob.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def run_job(job_id: int) -> ReportJob:
    """Render one claimed job: the report and the job's DONE state in one commit, or on
    failure nothing but the job's FAILED state and what went wrong."""
    job = db.session.get(ReportJob, job_id)
    try:
        report = generate_programme_report(
            job.programme, job.period_start, job.period_end, actor=job.requested_by
        )
        job.report = report
        job.state = ReportJobState.DONE
        job.finished_at = utcnow()
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - any failure is recorded on the job
        db.session.rollback()
        job = db.session.get(ReportJob, job_id)
        job.state = ReportJobState.FAILED
        job.finished_at = utcnow()
        job.error = f"{type(error).__name__}: {error}"[:500]
        db.session.commit()
        current_app.logger.warning("report job %s failed: %s", job_id, type(error).__name__)
    return job


def run_due_jobs(limit: int = 10) -> int:
    """Render up to `limit` waiting jobs, oldest first; returns how many were rendered."""
    now = utcnow()
    due = db.session.scalars(
        sa.select(ReportJob.id)
        .where(
            ReportJob.attempts < MAX_ATTEMPTS,
            sa.or_(
                ReportJob.state == ReportJobState.QUEUED,
                sa.and_(
                    ReportJob.state == ReportJobState.RUNNING,
                    ReportJob.started_at < now - STALE_AFTER,
                ),
            ),
        )
        .order_by(ReportJob.requested_at)
        .limit(limit)
    ).all()
    done = 0
    for job_id in due:
        if claim(job_id):
            run_job(job_id)
            done += 1
    return done
