"""The uptake figures as officers see them: small counts withheld, labelled, in tables and charts.

One builder for the page, the CSV/XLSX exports and the PDF report, so that each shows the
same protected figures. Nothing here names a person or carries free text: only counts,
shares, days and amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from referrals.charts import bar_chart
from referrals.labels import DROPOUT_REASON_LABELS, REASON_LABELS
from referrals.models import Attendance, DropoutReason, OrganisationKind, Reason
from referrals.services.uptake import FUNNEL, Uptake, Wait
from referrals.services.uptake.disclosure import SMALL, is_small, protect_mapping, share, show
from referrals.services.uptake.exports import Table

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


@dataclass
class Chart:
    title: str
    svg: Markup


@dataclass
class DashboardView:
    key_figures: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


def euros(cents: int | None) -> str:
    if cents is None:
        return "–"
    return "€ " + format_decimal(cents / 100, format="#,##0.00")


def days(value: float | None) -> str:
    if value is None:
        return "–"
    return _("%(days)s days", days=format_decimal(round(value, 1), format="#,##0.#"))


def _wait(label: str, wait: Wait) -> list[object]:
    if wait.count == 0:
        return [label, "0", "–", "–"]
    if is_small(wait.count):
        return [label, SMALL, "–", "–"]
    return [label, str(wait.count), days(wait.median), days(wait.p90)]


def _partition_rows(counts: dict, label_of) -> list[list[object]]:
    parts, total = protect_mapping(counts)
    rows = [[str(label_of(key)), shown.text] for key, shown in parts.items()]
    rows.append([_("Total"), total.text])
    return rows


def _label(mapping: dict, key: str) -> str:
    # The label dicts are keyed by StrEnum members, which are equal to (and hash as) their values.
    return str(mapping.get(key, key))


def build(uptake: Uptake) -> DashboardView:
    view = DashboardView()
    funnel = {stage: show(uptake.funnel.get(stage, 0)) for stage in FUNNEL}
    logged = uptake.attendance_logged
    present = uptake.attendance.get(Attendance.PRESENT.value, 0)
    attendance_rate = share(present, logged)
    started, completed = uptake.funnel.get("started", 0), uptake.funnel.get("completed", 0)
    delivered_shown = not is_small(uptake.sessions_delivered)
    view.key_figures = [
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
        (_("Attendance rate"), attendance_rate or "–"),
        (
            _("Median wait from referral to first session"),
            days(uptake.wait_to_first_session.median)
            if uptake.wait_to_first_session.count >= 5
            else "–",
        ),
        (_("Cost of sessions delivered"), euros(uptake.cost_cents) if delivered_shown else SMALL),
        (
            _("Share of the budget used"),
            f"{round(100 * uptake.cost_cents / uptake.budget_cents)}%"
            if uptake.budget_cents and delivered_shown
            else "–",
        ),
    ]

    months = _partition_rows(uptake.by_month, lambda key: key)
    view.tables.append(
        Table(_("Referrals received by month"), [_("Month"), _("Referrals")], months)
    )
    view.tables.append(
        Table(
            _("Referrals by referring organisation"),
            [_("Organisation"), _("Referrals")],
            _partition_rows(uptake.by_organisation, lambda key: key),
        )
    )
    view.tables.append(
        Table(
            _("Referrals by kind of referrer"),
            [_("Kind"), _("Referrals")],
            _partition_rows(uptake.by_organisation_kind, lambda k: _label(KIND_LABELS, k)),
        )
    )
    view.tables.append(
        Table(
            _("Reasons for referral (a referral can have several)"),
            [_("Reason"), _("Referrals")],
            [
                [
                    _label(REASON_LABELS, reason.value),
                    show(uptake.by_reason.get(reason.value, 0)).text,
                ]
                for reason in Reason
            ],
        )
    )
    view.tables.append(
        Table(
            _("From referral to result"),
            [_("Stage"), _("Referrals")],
            [[str(FUNNEL_LABELS[stage]), funnel[stage].text] for stage in FUNNEL],
        )
    )
    dropout_counts = {
        reason.value: uptake.dropout_reasons.get(reason.value, 0) for reason in DropoutReason
    }
    view.tables.append(
        Table(
            _("Reasons for dropping out"),
            [_("Reason"), _("Trajectories")],
            _partition_rows(dropout_counts, lambda k: _label(DROPOUT_REASON_LABELS, k)),
        )
    )
    view.tables.append(
        Table(
            _("Waiting times"),
            [_("From referral to"), _("Referrals"), _("Median"), _("90th percentile")],
            [
                _wait(_("the first offer"), uptake.wait_to_offer),
                _wait(_("acceptance by a therapist"), uptake.wait_to_acceptance),
                _wait(_("the first session"), uptake.wait_to_first_session),
            ],
        )
    )
    attendance_counts = {a.value: uptake.attendance.get(a.value, 0) for a in Attendance}
    view.tables.append(
        Table(
            _("Attendance at sessions in the period"),
            [_("Attendance"), _("Sessions")],
            _partition_rows(attendance_counts, lambda k: _label(ATTENDANCE_LABELS, k)),
        )
    )
    outcome_rows = []
    for outcome in uptake.outcomes:
        enough = outcome.pairs >= 5
        direction = _("higher is better") if outcome.higher_is_better else _("lower is better")
        outcome_rows.append(
            [
                f"{outcome.name} ({direction})",
                show(outcome.pairs).text,
                format_decimal(round(outcome.mean_change, 2), format="+#,##0.0#;-#,##0.0#")
                if enough and outcome.mean_change is not None
                else "–",
                share(outcome.improved, outcome.pairs) or "–",
            ]
        )
    view.tables.append(
        Table(
            _("Outcomes from intake to end"),
            [_("Questionnaire"), _("Participants"), _("Mean change"), _("Improved clearly")],
            outcome_rows,
        )
    )
    for outcome in uptake.outcomes:
        if outcome.instrument != "k10":
            continue
        bands = list(BAND_LABELS)
        before, before_total = protect_mapping({b: outcome.bands_before.get(b, 0) for b in bands})
        after, after_total = protect_mapping({b: outcome.bands_after.get(b, 0) for b in bands})
        rows = [[str(BAND_LABELS[b]), before[b].text, after[b].text] for b in bands]
        rows.append([_("Total"), before_total.text, after_total.text])
        view.tables.append(
            Table(
                _("K10 distress bands before and after"),
                [_("Band"), _("At intake"), _("At the end")],
                rows,
            )
        )
    view.tables.append(
        Table(
            _("Costs"),
            [_("Item"), _("Amount")],
            [
                [_("Sessions delivered (present)"), show(uptake.sessions_delivered).text],
                [_("Tariff per session"), euros(uptake.tariff_cents)],
                [
                    _("Cost of sessions delivered"),
                    euros(uptake.cost_cents) if delivered_shown else SMALL,
                ],
                [
                    _("Cost per started trajectory"),
                    euros(uptake.cost_per("started"))
                    if delivered_shown and not is_small(started)
                    else "–",
                ],
                [
                    _("Cost per completed trajectory"),
                    euros(uptake.cost_per("completed"))
                    if delivered_shown and not is_small(completed)
                    else "–",
                ],
                [_("Budget (funded places x sessions x tariff)"), euros(uptake.budget_cents)],
            ],
        )
    )

    month_parts, _total = protect_mapping(uptake.by_month)
    view.charts.append(
        Chart(
            _("Referrals received by month"),
            bar_chart(
                [
                    (key, None if shown.withheld else uptake.by_month[key], shown.text)
                    for key, shown in month_parts.items()
                ],
                title=_("Referrals received by month"),
                desc=", ".join(f"{key}: {shown.text}" for key, shown in month_parts.items())
                or _("No referrals in this period."),
                empty_label=_("No referrals in this period."),
            ),
        )
    )
    view.charts.append(
        Chart(
            _("From referral to result"),
            bar_chart(
                [
                    (
                        str(FUNNEL_LABELS[stage]),
                        None if funnel[stage].withheld else uptake.funnel.get(stage, 0),
                        funnel[stage].text,
                    )
                    for stage in FUNNEL
                ],
                title=_("From referral to result"),
                desc=", ".join(f"{FUNNEL_LABELS[s]}: {funnel[s].text}" for s in FUNNEL),
            ),
        )
    )
    return view
