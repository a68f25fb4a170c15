"""Programme uptake for officers (their organisation's programmes) and coordinators (theirs).

Aggregates only, through services.uptake_view: officers choose a fixed period and see counts
rounded to base 5 (services.uptake.disclosure); coordinators, who see the referrals one by one,
see exact figures and may choose free dates on the page. The downloads and the funder report
are always of a fixed period and rounded. Exports are audited.
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
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Optional

from referrals.blueprints.common import (
    DateField,
    FilterForm,
    Form,
    apply_service_error,
    drop_changes,
    file_response,
    refuse,
)
from referrals.blueprints.uptake import bp
from referrals.blueprints.uptake.forms import NeedForm, NeedUploadForm, PercentField
from referrals.models import (
    Programme,
    local_today,
)
from referrals.permissions import Role, programme_for, roles_required
from referrals.services import ServiceError
from referrals.services.uptake import (
    downloads,
    periods,
    programme_report,
    programme_uptake,
    reach,
    uptake_view,
)

MAX_PERIOD = timedelta(days=5 * 366)
KIND_GROUPS = (
    (periods.ALL, _l("Programme to date")),
    (periods.YEAR, _l("Years")),
    (periods.QUARTER, _l("Quarters")),
    (periods.MONTH, _l("Months")),
)


def period_choices(available: list[periods.Period]) -> dict:
    """The fixed periods as option groups: the programme to date, years, quarters, months."""
    groups: dict = {}
    for kind, label in KIND_GROUPS:
        options = [(p.key, p.label) for p in available if p.kind == kind]
        if options:
            groups[str(label)] = options
    return groups


class PeriodForm(FilterForm):
    """The officer's choice: one of the fixed periods (services.uptake.periods)."""

    period = SelectField(_l("Reporting period"), validators=[Optional()], validate_choice=False)
    available: tuple = ()  # the periods to choose from: setup() sets them

    def setup(self, available: list[periods.Period]) -> None:
        self.available = tuple(available)
        self.period.choices = period_choices(available)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        key = self.period.data
        if key and not self.period.errors and all(p.key != key for p in self.available):
            self.period.errors = [*self.period.errors, _l("Choose one of the periods in the list.")]
            valid = False
        return valid

    def fixed(self) -> periods.Period | None:
        """The chosen fixed period, by default the year of the last complete month."""
        key = self.period.data
        if key:
            return next((p for p in self.available if p.key == key), None)
        return next((p for p in self.available if p.kind == periods.YEAR), None)

    def period_range(self, programme: Programme) -> tuple[date, date] | None:
        if self.errors:
            return None
        chosen = self.fixed()
        return None if chosen is None else (chosen.start, chosen.end)


class CoordinatorPeriodForm(PeriodForm):
    """The coordinator's choice: a fixed period, or free dates (exact figures on the page)."""

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Up to and including"), validators=[Optional()])

    def is_free(self) -> bool:
        return bool(self.start.data or self.end.data)

    def fixed(self) -> periods.Period | None:
        return None if self.is_free() else super().fixed()

    def period_range(self, programme: Programme) -> tuple[date, date] | None:
        """Free dates where given (one missing: the last twelve months up to today, or the
        programme's start), else the fixed period; None when invalid."""
        if self.errors:
            return None
        if not self.is_free():
            return super().period_range(programme)
        today = local_today()
        end = self.end.data or today
        months_back = end.year * 12 + end.month - 1 - 11
        twelve_months = date(months_back // 12, months_back % 12 + 1, 1)
        start = self.start.data or max(programme.starts_on, twelve_months)
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


def sees_exact_figures(user) -> bool:
    """Coordinators see their programmes' referrals one by one, so their page shows exact
    figures; officers see protected ones."""
    return user.role is Role.COORDINATOR


@bp.get("/uptake")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def index():
    programmes = downloads.programmes_shown(current_user)
    return render_template("uptake/index.html", programmes=programmes)


def _figures(programme_id: int):
    programme = get_programme_or_404(programme_id)
    exact = sees_exact_figures(current_user)
    form = (CoordinatorPeriodForm if exact else PeriodForm)(request.args)
    form.setup(periods.available(programme))
    form.validate()
    chosen = form.period_range(programme)
    fixed = None if chosen is None else form.fixed()
    view = None
    if chosen is not None:
        # Show the period in effect, also when it is the default.
        if fixed is not None:
            form.period.data = fixed.key
        else:
            form.start.data, form.end.data = chosen
        uptake = programme_uptake(programme, *chosen)
        view = uptake_view.build(uptake) if exact else uptake_view.protected(uptake)
    return programme, form, chosen, fixed, view


@bp.get("/uptake/<int:programme_id>")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def dashboard(programme_id: int):
    programme, form, period, fixed, view = _figures(programme_id)
    return render_template(
        "uptake/dashboard.html",
        programme=programme,
        form=form,
        period=period,
        fixed=fixed,
        view=view,
        jobs=downloads.report_jobs(programme),
        max_attempts=programme_report.MAX_ATTEMPTS,
    )


class ReportRequestForm(Form):
    period = StringField(_l("Reporting period"), validators=[InputRequired()])


@bp.post("/uptake/<int:programme_id>/reports")
@roles_required(Role.OFFICER, Role.COORDINATOR)
def request_report(programme_id: int):
    """Queue a PDF report of the period shown; the worker renders it."""
    programme = get_programme_or_404(programme_id)
    form = ReportRequestForm()
    period = periods.find(programme, form.period.data) if form.validate_on_submit() else None
    if period is None:
        flash(_("Choose one of the periods in the list first."), "error")
        return redirect(url_for("uptake.dashboard", programme_id=programme.id))
    start, end = period.start, period.end
    if current_app.config["REPORTS_INLINE"]:
        programme_report.request_and_render(programme, start, end, actor=current_user)
    else:
        programme_report.request_report(programme, start, end, actor=current_user)
    flash(_("The report is being made. It appears under Reports below when it is ready."), "info")
    return redirect(
        url_for(
            "uptake.dashboard",
            programme_id=programme.id,
            period=period.key,
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
    """A fixed period's figures, protected whoever asks."""
    programme = get_programme_or_404(programme_id)
    period = periods.find(programme, request.args.get("period"))
    if period is None:
        abort(400)
    made = downloads.export_tables(current_user, programme, period, kind)
    return file_response(made.data, filename=made.filename, mimetype=made.mimetype, download=True)


@bp.route("/uptake/<int:programme_id>/need", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def need(programme_id: int):
    """The municipality's own figures on the need in the programme's area."""
    programme = get_programme_or_404(programme_id)
    form = NeedForm()
    if request.method == "GET":
        _fill_need_form(form, reach.load_need(programme.id))
    if form.validate_on_submit():
        pc4, _bad = reach.parse_pc4_lines(form.pc4_residents.data or "")
        try:
            reach.save_need(
                programme,
                reach.NeedInput(
                    adult_residents=form.adult_residents.number,
                    residents_source=(form.residents_source.data or "").strip(),
                    residents_year=form.residents_year.number,
                    k10_low_percent=form.k10_low_percent.number,
                    k10_moderate_percent=form.k10_moderate_percent.number,
                    k10_high_percent=form.k10_high_percent.number,
                    k10_source=(form.k10_source.data or "").strip(),
                    k10_year=form.k10_year.number,
                    pc4_residents=pc4,
                    pc4_source=(form.pc4_source.data or "").strip(),
                    pc4_year=form.pc4_year.number,
                ),
                actor=current_user,
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(_("The figures on the need are saved."), "info")
            return redirect(url_for("uptake.dashboard", programme_id=programme.id))
    return render_template("uptake/need.html", programme=programme, form=form)


def _fill_need_form(form: NeedForm, need: reach.Need) -> None:
    def whole(value):
        return "" if value is None else str(value)

    form.adult_residents.data = whole(need.adult_residents)
    form.residents_source.data = need.residents_source
    form.residents_year.data = whole(need.residents_year)
    form.k10_low_percent.data = PercentField.text_of(need.k10_percent.get("low"))
    form.k10_moderate_percent.data = PercentField.text_of(need.k10_percent.get("moderate"))
    form.k10_high_percent.data = PercentField.text_of(need.k10_percent.get("high"))
    form.k10_source.data = need.k10_source
    form.k10_year.data = whole(need.k10_year)
    form.pc4_residents.data = "\n".join(f"{pc4};{n}" for pc4, n in need.pc4_residents.items())
    form.pc4_source.data = need.pc4_source
    form.pc4_year.data = whole(need.pc4_year)


@bp.route("/uptake/need-import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def need_import():
    """The admin imports the need figures of several programmes from one CSV."""
    form = NeedUploadForm()
    errors: list[str] = []
    if form.validate_on_submit():
        result = reach.import_need_csv(form.file.data.read(), actor=current_user)
        if result.errors:
            drop_changes()
            errors = result.errors
        else:
            flash(
                _("The need figures of %(count)s programmes are saved.", count=len(result.saved)),
                "info",
            )
            return redirect(url_for("uptake.need_import"))
    return render_template("uptake/need_import.html", form=form, errors=errors[:50])
