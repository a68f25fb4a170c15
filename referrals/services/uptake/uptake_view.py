"""The uptake figures as officers see them: small counts withheld, labelled, in tables and charts.

One builder for the page, the CSV/XLSX exports and the PDF report, so that each shows the
same protected figures. Nothing here names a person or carries free text: only counts,
shares, days and amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from referrals.charts import bar_chart
from referrals.labels import DROPOUT_REASON_LABELS, REASON_LABELS
from referrals.models import Attendance, DropoutReason, OrganisationKind, Reason
from referrals.services.uptake import FUNNEL, Uptake, Wait
from referrals.services.uptake.disclosure import (
    Shown,
    is_small,
    protect_mapping,
    share,
    share_of_shown,
    show,
)
from referrals.services.uptake.exports import MONTH_FORMAT, Figure, Table

FUNNEL_LABELS = {
    "referred": _l("Referred"),
    "offered": _l("Offered to a therapist"),
    "accepted": _l("Accepted by a therapist"),
    "started": _l("Started (first session attended)"),
    "completed": _l("Completed"),
    "dropped_out": _l("Dropped out"),
    "regular_sport": _l("Moved on to regular sport"),
}
KIND_LABELS = {
    OrganisationKind.GP_PRACTICE: _l("GP practice"),
    OrganisationKind.MUNICIPALITY: _l("Municipality (social team)"),
    OrganisationKind.THERAPIST_PRACTICE: _l("Therapist practice"),
    OrganisationKind.OPERATOR: _l("Operator"),
    OrganisationKind.FUNDER: _l("Funder"),
    OrganisationKind.SCHOOL: _l("School"),
    OrganisationKind.EMPLOYER: _l("Employer"),
}
ATTENDANCE_LABELS = {
    Attendance.PRESENT: _l("Present"),
    Attendance.EXCUSED: _l("Absent with notice"),
    Attendance.ABSENT: _l("Absent without notice"),
}
BAND_LABELS = {
    "low": _l("Low (10-15)"),
    "moderate": _l("Moderate (16-29)"),
    "high": _l("High (30-50)"),
}


METHOD = (
    _l(
        "Referrals are counted in the period in which they were received, and followed up to today."
    ),
    _l(
        "Waiting times are in days from the referral; the 90th percentile is the wait that nine"
        " in ten stayed within."
    ),
    _l(
        "Attendance and costs count the sessions held in the period; the budget is funded places"
        " times sessions times tariff."
    ),
    _l(
        'Counts from 1 to 4 show as "<5"; where a total would give such a count away, one more'
        ' figure shows as "x".'
    ),
)
# Excel number formats; the reader's Excel supplies the decimal comma and the month names.
EURO_FORMAT = '"€ "#,##0.00'
PERCENT_FORMAT = "0%"
CHANGE_FORMAT = "+0.0#;-0.0#;0.0"


@dataclass
class Chart:
    title: str
    svg: Markup


@dataclass
class Section:
    """A part of the report under its own heading: its charts, then its tables."""

    title: str
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class DashboardView:
    key_figures: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    method: tuple = METHOD

    @property
    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]

    @property
    def charts(self) -> list[Chart]:
        return [chart for section in self.sections for chart in section.charts]


def euros(cents: int | None) -> str:
    if cents is None:
        return "–"
    return "€ " + format_decimal(cents / 100, format="#,##0.00")


def days(value: float | None) -> str:
    if value is None:
        return "–"
    return _("%(days)s days", days=format_decimal(round(value, 1), format="#,##0.#"))


def _amount(cents: int | None) -> Figure | str:
    return "–" if cents is None else Figure(cents / 100, euros(cents), EURO_FORMAT)


def _days(value: float | None) -> Figure | str:
    if value is None:
        return "–"
    unit = _("days")
    return Figure(round(value, 1), days(value), f'General" {unit}"')


def _percent(numerator: int, denominator: int) -> Figure | str:
    text = share(numerator, denominator)
    return "–" if text is None else Figure(numerator / denominator, text, PERCENT_FORMAT)


def _month(key: str) -> Figure:
    year, month = (int(part) for part in key.split("-"))
    return Figure(date(year, month, 1), key, MONTH_FORMAT)


def _wait(label: str, wait: Wait) -> list[object]:
    if wait.count == 0 or is_small(wait.count):
        return [label, show(wait.count), "–", "–"]
    return [label, show(wait.count), _days(wait.median), _days(wait.p90)]


def _partition(counts: dict, label_of) -> tuple[list[list[object]], dict[str, Shown], Shown]:
    """The rows of a partition with its total, and the protected parts and total themselves,
    for a figure or chart that must agree with the table."""
    parts, total = protect_mapping(counts)
    rows: list[list[object]] = [[label_of(key), shown] for key, shown in parts.items()]
    rows.append([_("Total"), total])
    return rows, parts, total


def _partition_rows(counts: dict, label_of) -> list[list[object]]:
    return _partition(counts, label_of)[0]


def _label(mapping: dict, key: str) -> str:
    # The label dicts are keyed by StrEnum members, which are equal to (and hash as) their values.
    return str(mapping.get(key, key))


def build(uptake: Uptake) -> DashboardView:
    """The protected figures of `uptake`, in sections, for the page, the exports and the PDF."""
    funnel = {stage: show(uptake.funnel.get(stage, 0)) for stage in FUNNEL}
    attendance_counts = {a.value: uptake.attendance.get(a.value, 0) for a in Attendance}
    attendance_rows, attendance, attendance_total = _partition(
        attendance_counts, lambda k: _label(ATTENDANCE_LABELS, k)
    )
    month_rows, months, _total = _partition(uptake.by_month, _month)
    view = DashboardView()
    # The sessions delivered are the attendance table's "present" cell: withheld there (also
    # as the secondary "x"), so are they, and the costs that multiply them by the tariff.
    delivered = attendance[Attendance.PRESENT.value]
    view.key_figures = _key_figures(
        uptake, funnel, share_of_shown(delivered, attendance_total), delivered
    )
    view.sections = [
        Section(
            _("Referrals received"),
            charts=_month_charts(months),
            tables=[
                Table(
                    _("Referrals received by month"),
                    [_("Month"), _("Referrals")],
                    month_rows,
                    sheet_name=_("By month"),
                ),
                *_referrer_tables(uptake),
            ],
        ),
        Section(
            _("How the referrals went"),
            charts=[_funnel_chart(uptake, funnel)],
            tables=_funnel_tables(uptake, funnel),
        ),
        Section(
            _("Sessions and costs"),
            tables=[
                Table(
                    _("Attendance at sessions in the period"),
                    [_("Attendance"), _("Sessions")],
                    attendance_rows,
                    sheet_name=_("Attendance"),
                ),
                _costs_table(uptake, delivered),
            ],
        ),
        Section(_("Outcomes"), tables=_outcome_tables(uptake)),
    ]
    return view


def _key_figures(
    uptake: Uptake, funnel: dict[str, Shown], attendance_rate: str | None, delivered: Shown
):
    delivered_shown = not delivered.withheld
    return [
        (_("Referrals received"), funnel["referred"].text),
        (_("Started"), funnel["started"].text),
        (
            _("Active participants against funded places"),
            _(
                "%(active)s of %(places)s",
                active=show(uptake.active_participants).text,
                places=uptake.funded_places,
            ),
        ),
        (
            _("Therapists' capacity in use"),
            _(
                "%(used)s of %(capacity)s places",
                used=show(uptake.capacity_in_use).text,
                capacity=uptake.capacity,
            ),
        ),
        # The share of the attendance table's own cells: shown when they are.
        (_("Attendance rate"), attendance_rate or "–"),
        (
            _("Median wait from referral to first session"),
            days(uptake.wait_to_first_session.median)
            if uptake.wait_to_first_session.count >= 5
            else "–",
        ),
        (
            _("Cost of sessions delivered"),
            euros(uptake.cost_cents) if delivered_shown else delivered.text,
        ),
        (
            _("Share of the budget used"),
            f"{round(100 * uptake.cost_cents / uptake.budget_cents)}%"
            if uptake.budget_cents and delivered_shown
            else "–",
        ),
    ]


def _referrer_tables(uptake: Uptake) -> list[Table]:
    return [
        Table(
            _("Referrals by referring organisation"),
            [_("Organisation"), _("Referrals")],
            _partition_rows(uptake.by_organisation, lambda key: key),
            sheet_name=_("By referring organisation"),
        ),
        Table(
            _("Referrals by kind of referrer"),
            [_("Kind"), _("Referrals")],
            _partition_rows(uptake.by_organisation_kind, lambda k: _label(KIND_LABELS, k)),
            sheet_name=_("By kind of referrer"),
        ),
        Table(
            _("Reasons for referral (a referral can have several)"),
            [_("Reason"), _("Referrals")],
            [
                [_label(REASON_LABELS, reason.value), show(uptake.by_reason.get(reason.value, 0))]
                for reason in Reason
            ],
            sheet_name=_("Reasons for referral"),
        ),
    ]


def _funnel_tables(uptake: Uptake, funnel: dict[str, Shown]) -> list[Table]:
    dropout_counts = {
        reason.value: uptake.dropout_reasons.get(reason.value, 0) for reason in DropoutReason
    }
    return [
        Table(
            _("From referral to result"),
            [_("Stage"), _("Referrals")],
            [[str(FUNNEL_LABELS[stage]), funnel[stage]] for stage in FUNNEL],
        ),
        Table(
            _("Reasons for dropping out"),
            [_("Reason"), _("Trajectories")],
            _partition_rows(dropout_counts, lambda k: _label(DROPOUT_REASON_LABELS, k)),
        ),
        Table(
            _("Waiting times"),
            [_("From referral to"), _("Referrals"), _("Median"), _("90th percentile")],
            [
                _wait(_("the first offer"), uptake.wait_to_offer),
                _wait(_("acceptance by a therapist"), uptake.wait_to_acceptance),
                _wait(_("the first session"), uptake.wait_to_first_session),
            ],
        ),
    ]


def _outcome_tables(uptake: Uptake) -> list[Table]:
    rows = []
    for outcome in uptake.outcomes:
        enough = outcome.pairs >= 5
        direction = _("higher is better") if outcome.higher_is_better else _("lower is better")
        change = outcome.mean_change
        rows.append(
            [
                f"{outcome.name} ({direction})",
                show(outcome.pairs),
                Figure(
                    round(change, 2),
                    format_decimal(round(change, 2), format="+#,##0.0#;-#,##0.0#"),
                    CHANGE_FORMAT,
                )
                if enough and change is not None
                else "–",
                _percent(outcome.improved, outcome.pairs),
            ]
        )
    tables = [
        Table(
            _("Outcomes from intake to end"),
            [_("Questionnaire"), _("Participants"), _("Mean change"), _("Improved clearly")],
            rows,
            sheet_name=_("Outcomes"),
        )
    ]
    for outcome in uptake.outcomes:
        if outcome.instrument != "k10":
            continue
        bands = list(BAND_LABELS)
        before, before_total = protect_mapping({b: outcome.bands_before.get(b, 0) for b in bands})
        after, after_total = protect_mapping({b: outcome.bands_after.get(b, 0) for b in bands})
        band_rows: list[list[object]] = [[str(BAND_LABELS[b]), before[b], after[b]] for b in bands]
        band_rows.append([_("Total"), before_total, after_total])
        tables.append(
            Table(
                _("K10 distress bands before and after"),
                [_("Band"), _("At intake"), _("At the end")],
                band_rows,
                sheet_name=_("K10 before and after"),
            )
        )
    return tables


def _costs_table(uptake: Uptake, delivered: Shown) -> Table:
    delivered_shown = not delivered.withheld
    started, completed = uptake.funnel.get("started", 0), uptake.funnel.get("completed", 0)
    return Table(
        _("Costs"),
        [_("Item"), _("Amount")],
        [
            [_("Sessions delivered (present)"), delivered],
            [_("Tariff per session"), _amount(uptake.tariff_cents)],
            [
                _("Cost of sessions delivered"),
                _amount(uptake.cost_cents) if delivered_shown else delivered,
            ],
            [
                _("Cost per started trajectory"),
                _amount(uptake.cost_per("started"))
                if delivered_shown and not is_small(started)
                else "–",
            ],
            [
                _("Cost per completed trajectory"),
                _amount(uptake.cost_per("completed"))
                if delivered_shown and not is_small(completed)
                else "–",
            ],
            [_("Budget (funded places x sessions x tariff)"), _amount(uptake.budget_cents)],
        ],
    )


MONTHS_IN_ONE_CHART = 24  # a chart of more rows no longer fits on a page of the report


def _month_charts(months: dict[str, Shown]) -> list[Chart]:
    """The month chart, or for a period of more than two years one chart per calendar year.
    The same protected parts as the month table: a withheld month gets no bar, only its text
    (a chart of one year shows no total, so it gives nothing more away)."""
    if len(months) <= MONTHS_IN_ONE_CHART:
        return [_month_chart(_("Referrals received by month"), months)]
    years: dict[str, dict[str, Shown]] = {}
    for key, shown in months.items():
        years.setdefault(key[:4], {})[key] = shown
    return [
        _month_chart(_("Referrals received by month, %(year)s", year=year), part)
        for year, part in years.items()
    ]


def _month_chart(title: str, months: dict[str, Shown]) -> Chart:
    return Chart(
        title,
        bar_chart(
            [(key, shown.value, shown.text) for key, shown in months.items()],
            title=title,
            desc=", ".join(f"{key}: {shown.text}" for key, shown in months.items())
            or _("No referrals in this period."),
            empty_label=_("No referrals in this period."),
        ),
    )


def _funnel_chart(uptake: Uptake, funnel: dict[str, Shown]) -> Chart:
    return Chart(
        _("From referral to result"),
        bar_chart(
            [
                (str(FUNNEL_LABELS[stage]), funnel[stage].value, funnel[stage].text)
                for stage in FUNNEL
            ],
            title=_("From referral to result"),
            desc=", ".join(f"{FUNNEL_LABELS[s]}: {funnel[s].text}" for s in FUNNEL),
        ),
    )
