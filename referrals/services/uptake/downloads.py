"""What officers and coordinators take away from a programme's figures: the exports and the
stored PDF reports, through the programme filter (permissions.programmes) and logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from referrals import audit
from referrals.extensions import db
from referrals.models import AuditAction, Programme, Report, ReportJob, ReportKind, User
from referrals.permissions import programme_for, programmes_visible_to
from referrals.services.uptake import exports
from referrals.services.uptake.uptake_view import DashboardView

JOBS_SHOWN = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def programmes_shown(user: User) -> list[Programme]:
    """The programmes whose figures `user` may see, by name."""
    return list(db.session.scalars(programmes_visible_to(user)))


def report_jobs(programme: Programme) -> list[ReportJob]:
    """The programme's report requests, newest first, with their reports and who asked."""
    return list(
        db.session.scalars(
            sa.select(ReportJob)
            .where(ReportJob.programme_id == programme.id)
            .order_by(ReportJob.requested_at.desc(), ReportJob.id.desc())
            .limit(JOBS_SHOWN)
            .options(selectinload(ReportJob.report), selectinload(ReportJob.requested_by))
        )
    )


def stored_report(user: User, report_id: int) -> Report | None:
    """A stored programme report, exactly as it was made, if its programme's figures are for
    `user`; reading it is logged as print."""
    report = db.session.get(Report, report_id)
    if report is None or report.kind is not ReportKind.PROGRESS:
        return None
    if programme_for(user, report.programme_id) is None:
        return None
    audit.record(AuditAction.PRINT, actor=user, obj=report, detail="programme progress report")
    return report


@dataclass
class Export:
    data: bytes
    mimetype: str
    filename: str


def export_tables(
    user: User, programme: Programme, view: DashboardView, start: date, end: date, kind: str
) -> Export:
    """The dashboard's protected tables as CSV or XLSX; logged as an export."""
    if kind == "csv":
        data, mimetype = exports.to_csv(view.tables), "text/csv; charset=utf-8"
    else:
        data, mimetype = exports.to_xlsx(view.tables), XLSX
    audit.record(
        AuditAction.EXPORT,
        actor=user,
        obj=programme,
        detail=f"uptake {kind} {start.isoformat()}..{end.isoformat()}",
    )
    filename = f"deelname-{programme.id}-{start.isoformat()}-{end.isoformat()}.{kind}"
    return Export(data=data, mimetype=mimetype, filename=filename)
