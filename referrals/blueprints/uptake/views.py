"""Programme uptake for officers (their organisation's programmes) and coordinators (theirs).

Aggregates only: every figure goes through services.uptake_view, which withholds counts from
1 to 4. Exports are audited.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.validators import InputRequired, Optional

from referrals.blueprints.common import (
    DateField,
    FilterForm,
    Form,
    file_response,
    period_date_error,
    refuse,
)
from referrals.blueprints.uptake import bp
from referrals.models import (
    Programme,
    local_today,
)
from referrals.permissions import Role, programme_for, roles_required
from referrals.services import ServiceError
from referrals.services.uptake import (
    downloads,
    programme_report,
    programme_uptake,
    uptake_view,
)

MAX_PERIOD = timedelta(days=5 * 366)


class PeriodForm(FilterForm):
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Up to and including"), validators=[Optional()])

    def period(self, programme: Programme) -> tuple[date, date] | None:
        """The chosen period, by default the last twelve calendar months (this one up to the
        end included, from the first of the month eleven months before: whole months, which
        the monthly summary answers); None when it is invalid."""
        today = local_today()
        end = self.end.data or today
        months_back = end.year * 12 + end.month - 1 - 11
        twelve_months = date(months_back // 12, months_back % 12 + 1, 1)
        start = self.start.data or max(programme.starts_on, twelve_months)
        if self.errors:
            return None
        if start > end:
            self.end.errors = [*self.end.errors, _l("The end lies before the start.")]
            return None
        if end - start > MAX_PERIOD:
            self.start.errors = [*self.start.errors, _l("Choose a period of at most five years.")]
            return None
        return start, end


def get_programme_or_404(programme_id: int) -> Programme:
    programme = programme_for(current_user, programme_id)
    if programme is None:
        abort(404)
    return programme


@bp.get("/uptake")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def index():
    programmes = downloads.programmes_shown(current_user)
    return render_template("uptake/index.html", programmes=programmes)


def _figures(programme_id: int):
    programme = get_programme_or_404(programme_id)
    form = PeriodForm(request.args)
    form.validate()
    period = form.period(programme)
    view = None
    if period is not None:
        # Show the period in effect, also when it is the default.
        form.start.data, form.end.data = period
        view = uptake_view.build(programme_uptake(programme, *period))
    return programme, form, period, view


@bp.get("/uptake/<int:programme_id>")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def dashboard(programme_id: int):
    programme, form, period, view = _figures(programme_id)
    return render_template(
        "uptake/dashboard.html",
        programme=programme,
        form=form,
        period=period,
        view=view,
        jobs=downloads.report_jobs(programme),
        max_attempts=programme_report.MAX_ATTEMPTS,
    )


class ReportRequestForm(Form):
    start = DateField(_l("From"), validators=[InputRequired()])
    end = DateField(_l("Up to and including"), validators=[InputRequired()])

    def validate(self, extra_validators=None) -> bool:
        """The filters' date range holds here too: no report job for the year 1."""
        valid = super().validate(extra_validators)
        for field in (self.start, self.end):
            message = None if field.errors else period_date_error(field.data)
            if message:
                field.errors = [*field.errors, message]
                valid = False
        return valid


@bp.post("/uptake/<int:programme_id>/reports")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def request_report(programme_id: int):
    """Queue a PDF report of the period shown; the worker renders it."""
    programme = get_programme_or_404(programme_id)
    form = ReportRequestForm()
    if not form.validate_on_submit():
        flash(_("Choose a valid period first."), "error")
        return redirect(url_for("uptake.dashboard", programme_id=programme.id))
    start, end = form.start.data, form.end.data
    if end < start or end - start > MAX_PERIOD:
        flash(_("Choose a valid period first."), "error")
        return redirect(url_for("uptake.dashboard", programme_id=programme.id))
    if current_app.config["REPORTS_INLINE"]:
        programme_report.request_and_render(programme, start, end, actor=current_user)
    else:
        programme_report.request_report(programme, start, end, actor=current_user)
    flash(_("The report is being made. It appears under Reports below when it is ready."), "info")
    return redirect(
        url_for(
            "uptake.dashboard",
            programme_id=programme.id,
            start=start.isoformat(),
            end=end.isoformat(),
            _anchor="reports",
        )
    )


@bp.post("/uptake/<int:programme_id>/reports/<int:job_id>/again")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def request_again(programme_id: int, job_id: int):
    """Queue the period of a report that could not be made once more."""
    programme = get_programme_or_404(programme_id)
    form = Form()
    if not form.validate_on_submit():
        abort(400)
    try:
        programme_report.request_again(programme, job_id, actor=current_user)
    except ServiceError as error:
        refuse(error)
    else:
        flash(
            _("The report is being made. It appears under Reports below when it is ready."),
            "info",
        )
    return redirect(url_for("uptake.dashboard", programme_id=programme.id, _anchor="reports"))


@bp.get("/uptake/reports/<int:report_id>")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def report_pdf(report_id: int):
    """A stored report, exactly as it was made."""
    report = downloads.stored_report(current_user, report_id)
    if report is None:
        abort(404)
    return file_response(
        report.pdf, filename=report.filename, mimetype="application/pdf", download=True
    )


@bp.get("/uptake/<int:programme_id>/export.<any(csv, xlsx):kind>")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def export(programme_id: int, kind: str):
    programme, form, period, view = _figures(programme_id)
    if view is None:
        abort(400)
    made = downloads.export_tables(current_user, programme, view, *period, kind)
    return file_response(made.data, filename=made.filename, mimetype=made.mimetype, download=True)
