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
from referrals.services.uptake import exports, programme_uptake, uptake_view
from referrals.services.uptake.disclosure import SMALL
from referrals.services.uptake.exports import Table
from referrals.services.uptake.periods import Period

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
    """What "<5" means, for the comment on each such cell and the legend under its table in
    the XLSX."""
    return {
        SMALL: _(
            '"<5": a count that rounds to 0, so from 0 to 4. Counts are rounded to a multiple of'
            " 5, so that no participant can be recognised."
        ),
    }


def about_table(
    programme_name: str, period_label: str, start: date, end: date, made_on: date, method
) -> Table:
    """The first sheet of the XLSX: which programme and period, and how the figures are made
    and protected (the method note)."""
    rows: list[list[object]] = [
        [_("Programme"), programme_name],
        [_("Reporting period"), period_label],
        [_("From"), start],
        [_("Up to and including"), end],
        [_("Made on"), made_on],
        [],
        [withheld_notes()[SMALL]],
        [],
        [_("How these figures are made")],
        *([str(line)] for line in method),
    ]
    return Table(_("About these figures"), [], rows, sheet_name=_("About these figures"))


@dataclass
class Export:
    data: bytes
    mimetype: str
    filename: str


def method_table(method) -> Table:
    """The method note as the CSV's last table: which rules the figures follow."""
    return Table(_("How these figures are made"), [_("Method")], [[str(line)] for line in method])


def export_tables(user: User, programme: Programme, period: Period, kind: str) -> Export:
    """The programme's figures for a fixed period as CSV or XLSX, always protected (rounded,
    whoever asks: a file travels further than the page); logged as an export."""
    view = uptake_view.protected(programme_uptake(programme, period.start, period.end))
    if kind == "csv":
        tables = [*view.tables, method_table(view.method)]
        data, mimetype = exports.to_csv(tables), "text/csv; charset=utf-8"
    else:
        about = about_table(
            programme.name, period.label, period.start, period.end, local_today(), view.method
        )
        data = exports.to_xlsx([about, *view.tables], notes=withheld_notes())
        mimetype = XLSX
    audit.record(
        AuditAction.EXPORT,
        actor=user,
        obj=programme,
        detail=f"uptake {kind} {period.start.isoformat()}..{period.end.isoformat()}",
    )
    filename = f"deelname-{programme.id}-{period.key}.{kind}"
    return Export(data=data, mimetype=mimetype, filename=filename)
