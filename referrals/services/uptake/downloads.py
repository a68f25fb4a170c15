"""What officers and coordinators take away from a programme's figures: the exports and the
stored PDF reports, through the programme filter (permissions.programmes) and logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    Programme,
    Report,
    ReportJob,
    ReportKind,
    User,
    local_today,
)
from referrals.permissions import programme_for, programmes_visible_to
from referrals.services.uptake import exports
from referrals.services.uptake.disclosure import HIDDEN, SMALL
from referrals.services.uptake.exports import Table
from referrals.services.uptake.uptake_view import METHOD, DashboardView

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


def withheld_notes() -> dict[str, str]:
    """What "<5" and "x" mean, for the comment on each such cell and the legend under its
    table in the XLSX."""
    return {
        SMALL: _(
            '"<5": a number from 1 to 4. The exact number is not shown, so that no participant'
            " can be recognised."
        ),
        HIDDEN: _(
            '"x": not shown, because together with the total it would give away a number from'
            " 1 to 4 elsewhere in this table."
        ),
    }


def about_table(programme_name: str, start: date, end: date, made_on: date) -> Table:
    """The first sheet of the XLSX: which programme and period, and how to read the figures."""
    notes = withheld_notes()
    rows: list[list[object]] = [
        [_("Programme"), programme_name],
        [_("From"), start],
        [_("Up to and including"), end],
        [_("Made on"), made_on],
        [],
        [notes[SMALL]],
        [notes[HIDDEN]],
        [],
        [_("How these figures are made")],
        *([str(line)] for line in METHOD),
    ]
    return Table(_("About these figures"), [], rows, sheet_name=_("About these figures"))


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
        about = about_table(programme.name, start, end, local_today())
        data = exports.to_xlsx([about, *view.tables], notes=withheld_notes())
        mimetype = XLSX
    audit.record(
        AuditAction.EXPORT,
        actor=user,
        obj=programme,
        detail=f"uptake {kind} {start.isoformat()}..{end.isoformat()}",
    )
    filename = f"deelname-{programme.id}-{start.isoformat()}-{end.isoformat()}.{kind}"
    return Export(data=data, mimetype=mimetype, filename=filename)
