"""The funder's PDF progress report of one programme and period, kept as an immutable snapshot.

The report shows the protected figures of the officer's dashboard (services.uptake_view,
rounded to base 5 over a fixed period, whoever asks): key figures, the charts, the tables and
the method note that names the disclosure control. Its length depends on the number of
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
from referrals.services.uptake import periods, programme_uptake, uptake_view


def render_programme_report(programme: Programme, start: date, end: date, *, version: int):
    """The PDF bytes and the parameters they were made from."""
    view = uptake_view.protected(programme_uptake(programme, start, end))
    made_at = utcnow()
    pdf = render_pdf(
        "programme_report.html",
        pdf_variant=ARCHIVE_VARIANT,
        programme=programme,
        start=start,
        end=end,
        view=view,
        method_name=uptake_view.METHOD_NAME,
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
    fails, so a failed report leaves no half-written snapshot.

    Versions are numbered 1, 2, 3 ... per programme and period, once each: a unique index
    holds the number, and a worker that lost the race to another (both rendered version 3)
    renders again as the next version, in a savepoint, instead of storing a second 3.
    """
    for _attempt in range(VERSION_RACE_RETRIES):
        version = _next_version(programme, start, end)
        pdf, params, made_at = render_programme_report(programme, start, end, version=version)
        report = Report(
            kind=ReportKind.PROGRESS,
            created_at=made_at,
            created_by=actor,
            programme=programme,
            period_start=start,
            period_end=end,
            version=version,
            params=params,
            filename=(
                f"voortgang-{programme.id}-{start.isoformat()}-{end.isoformat()}-v{version}.pdf"
            ),
            sha256=hashlib.sha256(pdf).hexdigest(),
            pdf=pdf,
        )
        try:
            with db.session.begin_nested():
                db.session.add(report)
        except sa.exc.IntegrityError:
            continue  # another worker stored this version first: take the next number
        audit.record(
            AuditAction.CREATE, actor=actor, obj=report, detail="programme progress report"
        )
        return report
    raise RuntimeError("no free version number after several tries")


VERSION_RACE_RETRIES = 5


def _next_version(programme: Programme, start: date, end: date) -> int:
    latest = db.session.scalar(
        sa.select(sa.func.max(Report.version)).where(
            Report.kind == ReportKind.PROGRESS,
            Report.programme_id == programme.id,
            Report.period_start == start,
            Report.period_end == end,
        )
    )
    return (latest or 0) + 1


# Jobs: the web request only queues; the worker (`flask render-reports`) renders. A claimed job
# holds a lease (REPORT_JOB_LEASE_SECONDS, a few times a render's time): a worker that dies
# leaves it to the next worker once the lease ends. Each claim counts as an attempt; after
# MAX_ATTEMPTS the job is failed, with what went wrong, and can be asked for again.
MAX_ATTEMPTS = 3


def lease() -> timedelta:
    return timedelta(seconds=current_app.config["REPORT_JOB_LEASE_SECONDS"])


def request_report(programme: Programme, start: date, end: date, *, actor: User) -> ReportJob:
    """Queue a new version of the report of a fixed period (services.uptake.periods): a
    report for funders is never of free dates; the caller commits."""
    if end < start:
        raise ServiceError(_("The end lies before the start."), "end")
    if periods.named(periods.available(programme), start, end) is None:
        raise ServiceError(_("Choose one of the periods in the list first."), "period")
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


def request_again(programme: Programme, job_id: int, *, actor: User) -> ReportJob:
    """Queue the period of a failed job once more; the caller commits."""
    job = db.session.scalar(
        sa.select(ReportJob).where(ReportJob.id == job_id, ReportJob.programme_id == programme.id)
    )
    if job is None or job.state is not ReportJobState.FAILED:
        raise ServiceError(_("Only a report that could not be made can be asked for again."))
    return request_report(programme, job.period_start, job.period_end, actor=actor)


def request_and_render(programme: Programme, start: date, end: date, *, actor: User) -> ReportJob:
    """Development, without a worker: queue the job, then render it at once as the worker
    would, with the worker's own commits (the job must be committed before it is claimed)."""
    job = request_report(programme, start, end, actor=actor)
    db.session.commit()
    if claim(job.id):
        run_job(job.id)
    return job


def _claimable(now):
    return sa.and_(
        ReportJob.attempts < MAX_ATTEMPTS,
        sa.or_(
            ReportJob.state == ReportJobState.QUEUED,
            sa.and_(
                ReportJob.state == ReportJobState.RUNNING, ReportJob.started_at < now - lease()
            ),
        ),
    )


def claim(job_id: int) -> bool:
    """Take a queued job, or a running one whose lease ended, atomically: one worker per job."""
    now = utcnow()
    result = db.session.execute(
        sa.update(ReportJob)
        .where(ReportJob.id == job_id, _claimable(now))
        .values(state=ReportJobState.RUNNING, started_at=now, attempts=ReportJob.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def run_job(job_id: int) -> ReportJob:
    """Render one claimed job: the report and the job's DONE state in one commit. On failure
    nothing but what went wrong: the job waits for the next worker round, or is failed when
    this was its last attempt."""
    job = db.session.get(ReportJob, job_id)
    try:
        report = generate_programme_report(
            job.programme, job.period_start, job.period_end, actor=job.requested_by
        )
        job.report = report
        job.state = ReportJobState.DONE
        job.finished_at = utcnow()
        job.error = None
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - any failure is recorded on the job
        db.session.rollback()
        job = db.session.get(ReportJob, job_id)
        job.error = f"{type(error).__name__}: {error}"[:500]
        if job.attempts >= MAX_ATTEMPTS:
            job.state = ReportJobState.FAILED
            job.finished_at = utcnow()
        else:
            job.state = ReportJobState.QUEUED
        db.session.commit()
        current_app.logger.warning(
            "report job %s failed (attempt %s): %s", job_id, job.attempts, type(error).__name__
        )
    return job


def fail_abandoned_jobs() -> int:
    """Jobs whose worker died on their last attempt: failed, so that nobody waits for ever."""
    now = utcnow()
    result = db.session.execute(
        sa.update(ReportJob)
        .where(
            ReportJob.state == ReportJobState.RUNNING,
            ReportJob.attempts >= MAX_ATTEMPTS,
            ReportJob.started_at < now - lease(),
        )
        .values(
            state=ReportJobState.FAILED,
            finished_at=now,
            error=f"the render stopped {MAX_ATTEMPTS} times without finishing",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def run_due_jobs(limit: int = 10) -> int:
    """Render up to `limit` waiting jobs, oldest first; returns how many were rendered."""
    fail_abandoned_jobs()
    due = db.session.scalars(
        sa.select(ReportJob.id)
        .where(_claimable(utcnow()))
        .order_by(ReportJob.requested_at)
        .limit(limit)
    ).all()
    db.session.commit()
    done = 0
    for job_id in due:
        if claim(job_id):
            run_job(job_id)
            done += 1
    return done
