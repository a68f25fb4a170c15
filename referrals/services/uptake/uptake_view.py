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

from referrals.charts import bar_chart, dot_map
from referrals.labels import DROPOUT_REASON_LABELS, REASON_LABELS, REGULAR_SPORT_LABELS
from referrals.models import NO_SPORT, Attendance, DropoutReason, OrganisationKind, Reason
from referrals.services.uptake import FUNNEL, Uptake
from referrals.services.uptake.disclosure import EXACT, Shown, rounding_for, share
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
AGE_LABELS = {
    "18-29": _l("18 to 29"),
    "30-49": _l("30 to 49"),
    "50-64": _l("50 to 64"),
    "65+": _l("65 and older"),
    "other": _l("Younger than 18 or unknown"),
}
BAND_LABELS = {
    "low": _l("Low (10-15)"),
    "moderate": _l("Moderate (16-29)"),
    "high": _l("High (30-50)"),
}


WAIT_BANDS = (  # (last day, label); the last band has no end
    (14, _l("Within 2 weeks")),
    (28, _l("2 to 4 weeks")),
    (56, _l("4 to 8 weeks")),
    (None, _l("More than 8 weeks")),
)
WAIT_STAGES = (
    ("offer", _l("the first offer")),
    ("acceptance", _l("acceptance by a therapist")),
    ("session", _l("the first session")),
)
METHOD_NAME = _l(
    "Random rounding to base 5 over fixed periods (ESSnet Handbook on Statistical Disclosure"
    " Control; Statistics New Zealand rounds its published counts the same way, to base 3)."
)
COMMON_METHOD = (
    _l(
        "Referrals are counted in the period in which they were received, and followed up to today."
    ),
    _l(
        "Waiting times are in days from the referral, counted per band of weeks; the 90th"
        " percentile is the wait that nine in ten stayed within."
    ),
    _l(
        "Attendance and costs count the sessions held in the period; the budget is funded places"
        " times sessions times tariff."
    ),
)
PROTECTED_METHOD = (
    _l("Disclosure control: %(method)s", method=METHOD_NAME),
    _l(
        "Periods are whole calendar months, quarters and years, or the programme to date, each"
        " up to the end of the last complete month. There are no free dates: two periods a day"
        " apart could be compared to find the referrals of that day."
    ),
    _l(
        "Every count is rounded to a multiple of 5, up or down at random, so that on average it"
        " is right: 7 becomes 5 three times in five and 10 twice. A count that rounds to 0 shows"
        ' as "<5" (0 to 4). The same figures asked for again are rounded the same way.'
    ),
    _l(
        "Every figure and every total is rounded on its own, so parts need not add up to their"
        " total, and no total gives a part away."
    ),
    _l(
        "One figure is rounded once wherever it shows: the number of referrals in every table,"
        " a month's own row in its month, quarter and year, and the state at a period's end."
    ),
    _l(
        "Shares and amounts are computed from the rounded counts. Means and medians are not"
        " shown: one person more or less moves them, so two periods could be compared to find"
        " that person's score or wait."
    ),
)
EXACT_METHOD = (
    _l(
        "Exact figures: you coordinate this programme and see its referrals one by one. Do not"
        " pass them on. The downloads and the PDF report for funders follow the disclosure"
        " control of the officers' figures: %(method)s",
        method=METHOD_NAME,
    ),
)


def method(rounding) -> tuple:
    """The method note of figures shown with `rounding` (disclosure.EXACT or a Rounded)."""
    return (*COMMON_METHOD, *(PROTECTED_METHOD if rounding.protected else EXACT_METHOD))


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
    """A part of the report under its own heading: its charts, then its tables; `note` is a
    line of text where there is nothing to count, `new_page` starts it on a page of its own in
    the report."""

    title: str
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    note: str = ""
    new_page: bool = False


@dataclass
class DashboardView:
    key_figures: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    method: tuple = ()
    protected: bool = True

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


def _percent(part: Shown, whole: Shown) -> Figure | str:
    text = share(part, whole)
    if text is None:
        return "–"
    assert part.value is not None and whole.value
    return Figure(part.value / whole.value, text, PERCENT_FORMAT)


def _whole(value: int | None) -> Figure | str:
    """A whole number that is no count of people in the programme (residents): as it is."""
    if value is None:
        return "–"
    return Figure(value, format_decimal(value, "#,##0"), "#,##0")


def _month(key: str) -> Figure:
    year, month = (int(part) for part in key.split("-"))
    return Figure(date(year, month, 1), key, MONTH_FORMAT)


def _label(mapping: dict, key: str) -> str:
    # The label dicts are keyed by StrEnum members, which are equal to (and hash as) their values.
    return str(mapping.get(key, key))


def wait_bands(days_waited: dict[int, int]) -> list[int]:
    """The referrals per WAIT_BANDS band, from days -> referrals."""
    counts = [0] * len(WAIT_BANDS)
    for waited, count in days_waited.items():
        index = next(i for i, (last, _) in enumerate(WAIT_BANDS) if last is None or waited <= last)
        counts[index] += count
    return counts


@dataclass
class Roundings:
    """The roundings of one view (services.uptake.disclosure), by what a figure depends on, so
    that one quantity is rounded once wherever it shows and cannot be averaged over views:
    `period` for the period's figures, `month(key)` for a month's own row (the same in the
    month, its quarter, its year and the programme to date), `at_end` for a state at the
    period's end, `steady` for a figure that does not depend on the period at all."""

    period: object
    at_end: object
    steady: object
    months: dict = field(default_factory=dict)

    @property
    def protected(self) -> bool:
        return self.period.protected

    def month(self, key: str):
        return self.months.get(key, self.period)


EXACT_ROUNDINGS = Roundings(EXACT, EXACT, EXACT)
RECEIVED = ("received",)  # the cell of the number of referrals received, wherever it shows


class _Builder:
    """The tables of one Uptake, every count through its rounding with its own cell name."""

    def __init__(self, uptake: Uptake, roundings: Roundings):
        self.uptake, self.roundings = uptake, roundings
        self.protected = roundings.protected

    def count(self, count: int, *cell: object) -> Shown:
        return self.roundings.period.count(count, *cell)

    def partition(self, name: str, counts: dict, label_of, *, total_cell: tuple | None = None):
        """The rows of a partition with its total, and the shown parts and total themselves,
        for a figure or chart that must agree with the table. `total_cell` names a total that
        shows elsewhere too (the referrals received), so that it is rounded once."""
        parts = {key: self.count(n, name, key) for key, n in counts.items()}
        total = self.count(sum(counts.values()), *(total_cell or (name, "total")))
        rows: list[list[object]] = [[label_of(key), shown] for key, shown in parts.items()]
        rows.append([_("Total"), total])
        return rows, parts, total

    def view(self) -> DashboardView:
        uptake = self.uptake
        funnel = {
            stage: self.count(uptake.funnel.get(stage, 0), *self.funnel_cell(stage))
            for stage in FUNNEL
        }
        attendance_counts = {a.value: uptake.attendance.get(a.value, 0) for a in Attendance}
        attendance_rows, attendance, attendance_total = self.partition(
            "attendance", attendance_counts, lambda k: _label(ATTENDANCE_LABELS, k)
        )
        months = {
            key: self.roundings.month(key).count(n, "month", key)
            for key, n in uptake.by_month.items()
        }
        month_rows: list[list[object]] = [[_month(key), shown] for key, shown in months.items()]
        month_rows.append([_("Total"), self.count(uptake.received, *RECEIVED)])
        waits = self.wait_rows()
        view = DashboardView(method=method(self.roundings), protected=self.protected)
        # The sessions delivered are the attendance table's "present" cell, and the costs
        # multiply that cell (rounded, where rounded) by the tariff.
        delivered = attendance[Attendance.PRESENT.value]
        view.key_figures = self.key_figures(
            funnel, share(delivered, attendance_total), delivered, waits
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
                    *self.referrer_tables(),
                ],
            ),
            Section(
                _("How the referrals went"),
                charts=[_funnel_chart(funnel)],
                tables=self.funnel_tables(funnel, waits),
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
                    self.costs_table(funnel, delivered),
                ],
            ),
            self.reach_section(funnel["referred"]),
            Section(_("Outcomes"), tables=self.outcome_tables()),
            self.follow_up_section(),
        ]
        return view

    def outcome_rows(self, found, name: str) -> list[list[object]]:
        """Per questionnaire: participants measured, the mean change (exact only), improved
        clearly and its share."""
        rows = []
        for outcome in found:
            direction = _("higher is better") if outcome.higher_is_better else _("lower is better")
            pairs = self.count(outcome.pairs, f"{name}_pairs", outcome.instrument)
            improved = self.count(outcome.improved, f"{name}_improved", outcome.instrument)
            row: list[object] = [f"{outcome.name} ({direction})", pairs]
            if not self.protected:
                change = outcome.mean_change
                row.append(
                    Figure(
                        round(change, 2),
                        format_decimal(round(change, 2), format="+#,##0.0#;-#,##0.0#"),
                        CHANGE_FORMAT,
                    )
                    if change is not None
                    else "–"
                )
            row += [improved, _percent(improved, pairs)]
            rows.append(row)
        return rows

    def outcome_header(self) -> list[str]:
        header = [_("Questionnaire"), _("Participants")]
        if not self.protected:
            header.append(_("Mean change"))
        return [*header, _("Improved clearly"), _("Share improved clearly")]

    def follow_up_section(self) -> Section:
        """Does it last: intake to follow-up, who was measured and who was lost, and regular
        sport at closing and at the follow-up."""
        uptake = self.uptake
        title = _("Lasting effect")
        sport_rows = []
        for sport, label in (*REGULAR_SPORT_LABELS.items(), (NO_SPORT, _l("Not regularly"))):
            at_closing = uptake.sport_at_closing.get(str(sport), 0) if sport != NO_SPORT else None
            sport_rows.append(
                [
                    str(label),
                    self.count(at_closing, "sport_closing", sport)
                    if at_closing is not None
                    else "–",
                    self.count(
                        uptake.sport_at_follow_up.get(str(sport), 0), "sport_follow_up", sport
                    ),
                ]
            )
        sport_table = Table(
            _("Regular sport after the trajectory"),
            [_("Runs regularly at"), _("At closing"), _("At the follow-up")],
            sport_rows,
            sheet_name=_("Regular sport"),
        )
        if not uptake.follow_up_months:
            return Section(
                title,
                tables=[sport_table],
                note=_("This programme asks for no follow-up questionnaire after closing."),
                new_page=True,
            )
        tables = [
            Table(
                _("Outcomes from intake to follow-up"),
                self.outcome_header(),
                self.outcome_rows(uptake.follow_up_outcomes, "follow"),
                sheet_name=_("Follow-up outcomes"),
            )
        ]
        due = self.count(uptake.follow_up_due, "follow_due")
        loss_rows: list[list[object]] = [
            [
                _(
                    "Closed long enough ago for the follow-up (%(months)s months)",
                    months=uptake.follow_up_months,
                ),
                due,
            ]
        ]
        measured = self.count(uptake.follow_up_measured, "follow_measured")
        lost = self.count(uptake.follow_up_due - uptake.follow_up_measured, "follow_lost")
        loss_rows += [
            [_("Measured at the follow-up"), measured],
            [_("Lost to follow-up"), lost],
            [_("Share lost to follow-up"), _percent(lost, due)],
        ]
        tables.append(
            Table(
                _("Measured and lost at the follow-up"),
                [_("Trajectories"), _("Number")],
                loss_rows,
                sheet_name=_("Follow-up measured"),
            )
        )
        tables += self.k10_band_tables(
            uptake.follow_up_outcomes,
            ("follow_k10_intake", "follow_k10"),
            _("K10 distress bands at intake and at the follow-up"),
            _("At the follow-up"),
            _("K10 at the follow-up"),
        )
        tables.append(sport_table)
        return Section(title, tables=tables, new_page=True)

    def reach_section(self, referred: Shown) -> Section:
        """Reach against need: the referrals against the municipality's figures, by age and
        by PC4 area (with the map), and the K10 at intake against the health monitor's."""
        uptake, need = self.uptake, self.uptake.need

        def source(text: str, year: int | None) -> str:
            if not text and year is None:
                return _("not entered")
            return ", ".join(part for part in (text, str(year) if year else "") if part)

        def per(count: Shown, residents: float | None, unit: int) -> Figure | str:
            if count.value is None or not residents:
                return "–"
            rate = count.value / residents * unit
            return Figure(round(rate, 1), format_decimal(round(rate, 1), "#,##0.0"), "0.0")

        high = need.high_risk_residents
        residents_source = source(need.residents_source, need.residents_year)
        k10_source = source(need.k10_source, need.k10_year)
        reach_rows: list[list[object]] = [
            [
                _("Adult residents of the area"),
                _whole(need.adult_residents),
                residents_source,
            ],
            [_("Referrals received in the period"), referred, ""],
            [
                _("Referrals per 10,000 adult residents"),
                per(referred, need.adult_residents, 10_000),
                residents_source,
            ],
            [
                _("Adults at high risk (K10 of 30 or more)"),
                _whole(round(high) if high is not None else None),
                k10_source,
            ],
            [_("Referrals per 1,000 adults at high risk"), per(referred, high, 1_000), k10_source],
        ]
        tables = [
            Table(
                _("Reach against the need in the area"),
                [_("Figure"), _("Value"), _("Source and year")],
                reach_rows,
                sheet_name=_("Reach"),
            )
        ]
        intake = uptake.intake_bands.get("k10")
        if "k10" in self.programme_questionnaires():  # by the programme, not by the data
            counts = {band: (intake or {}).get(band, 0) for band in BAND_LABELS}
            parts = {band: self.count(n, "intake_k10", band) for band, n in counts.items()}
            total = self.count(sum(counts.values()), "intake_k10", "total")
            rows: list[list[object]] = []
            for band in BAND_LABELS:
                municipal = need.k10_percent.get(band)
                rows.append(
                    [
                        str(BAND_LABELS[band]),
                        parts[band],
                        _percent(parts[band], total),
                        Figure(municipal / 100, f"{format_decimal(municipal, '#,##0.0')}%", "0.0%")
                        if municipal is not None
                        else "–",
                    ]
                )
            rows.append([_("Total"), total, "", ""])
            tables.append(
                Table(
                    _("K10 at intake against the municipality (%(source)s)", source=k10_source),
                    [
                        _("Band"),
                        _("Participants at intake"),
                        _("Share of participants"),
                        _("Share of adults in the municipality"),
                    ],
                    rows,
                    sheet_name=_("K10 at intake"),
                )
            )
        age_rows = self.partition(
            "age",
            {band: uptake.by_age.get(band, 0) for band in AGE_LABELS},
            lambda band: str(AGE_LABELS[band]),
            total_cell=RECEIVED,
        )[0]
        tables.append(
            Table(
                _("Referrals by age at referral"),
                [_("Age"), _("Referrals")],
                age_rows,
                sheet_name=_("By age"),
            )
        )
        area_rows, map_areas = self.area_rows()
        header = [_("Postcode area"), _("Referrals")]
        if uptake.need.pc4_residents:
            header += [_("Adult residents"), _("Referrals per 1,000 adult residents")]
        else:  # nothing entered per area: no columns of dashes
            area_rows = [row[:2] for row in area_rows]
        tables.append(
            Table(
                _("Referrals by postcode area (PC4)"),
                header,
                area_rows,
                sheet_name=_("By postcode area"),
            )
        )
        return Section(_("Reach"), charts=[self.area_map(map_areas)], tables=tables, new_page=True)

    def programme_questionnaires(self) -> list[str]:
        return [outcome.instrument for outcome in self.uptake.outcomes]

    def area_rows(self):
        """One row per PC4 area of the programme (and per PC4 outside it that referrals came
        from), with the referrals, the residents entered and the rate; and the map's dots
        (label, latitude, longitude, value, text). An area of more than MAX_AREAS PC4s (a
        national programme) is grouped by PC3 block, or by PC2 region, so that the table and
        the map stay readable and the report short."""
        uptake = self.uptake
        known = {area.pc4: area for area in uptake.area}
        # A fixed set of rows: the programme's PC4 areas with a known centre and those with
        # residents entered; every other PC4 together in one row that is always there (a row
        # that showed only for a count of one or more would give that count away).
        pc4s = set(known) | set(uptake.need.pc4_residents)
        elsewhere = sum(n for pc4, n in uptake.by_pc4.items() if pc4 not in pc4s)
        digits = 4
        while digits > 2 and len({pc4 // 10 ** (4 - digits) for pc4 in pc4s}) > MAX_AREAS:
            digits -= 1
        divisor = 10 ** (4 - digits)
        groups: dict[int, dict] = {}
        for pc4 in sorted(pc4s):
            group = groups.setdefault(
                pc4 // divisor, {"referrals": 0, "residents": None, "areas": []}
            )
            group["referrals"] += uptake.by_pc4.get(pc4, 0)
            people = uptake.need.pc4_residents.get(pc4)
            if people is not None:
                group["residents"] = (group["residents"] or 0) + people
            if pc4 in known:
                group["areas"].append(known[pc4])
        rows: list[list[object]] = []
        dots = []
        shade_by_rate = bool(uptake.need.pc4_residents)
        for key, group in groups.items():
            code = str(key) + "x" * (4 - digits)
            areas = group["areas"]
            places = sorted({area.place for area in areas})
            if not places:
                label = code
            elif digits == 4 or len(places) == 1:
                label = f"{code} {places[0]}"
            else:
                label = f"{code} {places[0]} …"
            shown = self.count(group["referrals"], f"pc{digits}", key)
            people = group["residents"]
            rate = (
                round(shown.value / people * 1000, 1)
                if shown.value is not None and people
                else None
            )
            rows.append(
                [
                    label,
                    shown,
                    _whole(people),
                    Figure(rate, format_decimal(rate, "#,##0.0"), "0.0")
                    if rate is not None
                    else "–",
                ]
            )
            if areas:
                latitude = sum(a.latitude for a in areas) / len(areas)
                longitude = sum(a.longitude for a in areas) / len(areas)
                value = rate if shade_by_rate else shown.value
                text = (
                    shown.text
                    if rate is None
                    else _(
                        "%(count)s referrals, %(rate)s per 1,000 adults",
                        count=shown.text,
                        rate=format_decimal(rate, "#,##0.0"),
                    )
                )
                dots.append((label, latitude, longitude, value, text))
        rows.append(
            [
                _("Elsewhere (outside the area, or no known centre)"),
                self.count(elsewhere, f"pc{digits}", "elsewhere"),
                "–",
                "–",
            ]
        )
        return rows, dots

    def area_map(self, dots) -> Chart:
        title = _("Referrals by postcode area")
        shaded_by = (
            _("per 1,000 adult residents")
            if self.uptake.need.pc4_residents
            else _("number of referrals")
        )
        desc = _(
            "A dot per postcode area of the programme at its centre, darker for more referrals"
            " (%(by)s); an open dot has none or fewer than 5. The table below gives each figure.",
            by=shaded_by,
        )
        return Chart(
            title,
            dot_map(
                dots,
                title=title,
                desc=desc,
                legend=_("Fewer to more referrals (%(by)s):", by=shaded_by),
                empty_label=_("The programme has no postcode areas with a known centre."),
            ),
        )

    @staticmethod
    def funnel_cell(stage: str) -> tuple:
        return RECEIVED if stage == "referred" else ("funnel", stage)

    def cost(self, delivered: Shown) -> int | None:
        """The cost of the sessions delivered as shown: None when they are withheld."""
        return None if delivered.value is None else delivered.value * self.uptake.tariff_cents

    def key_figures(self, funnel, attendance_rate: str | None, delivered: Shown, waits):
        uptake = self.uptake
        cost = self.cost(delivered)
        if self.protected:
            # A share of rounded counts: the waits to a first session within 4 weeks (a cell
            # of its own) of all waits to a first session (the waiting table's cell).
            days_waited = uptake.wait_days.get("session", {})
            within = self.count(
                sum(n for waited, n in days_waited.items() if waited <= 28), "wait", "within_28"
            )
            wait = (
                _("Started within 4 weeks of the referral"),
                share(within, waits["session"][-1]) or "–",
            )
        else:
            wait = (
                _("Median wait from referral to first session"),
                days(uptake.wait_to_first_session.median),
            )
        return [
            (_("Referrals received"), funnel["referred"].text),
            (_("Started"), funnel["started"].text),
            (
                _("Active participants against funded places"),
                _(
                    "%(active)s of %(places)s",
                    active=self.roundings.at_end.count(uptake.active_participants, "active").text,
                    places=uptake.funded_places,
                ),
            ),
            (
                _("Therapists' capacity in use"),
                _(
                    "%(used)s of %(capacity)s places",
                    used=self.roundings.steady.count(
                        uptake.capacity_in_use, "capacity_in_use"
                    ).text,
                    capacity=uptake.capacity,
                ),
            ),
            (_("Attendance rate"), attendance_rate or "–"),
            wait,
            (_("Cost of sessions delivered"), euros(cost) if cost is not None else "–"),
            (
                _("Share of the budget used"),
                f"{round(100 * cost / uptake.budget_cents)}%"
                if uptake.budget_cents and cost is not None
                else "–",
            ),
        ]

    def referrer_tables(self) -> list[Table]:
        uptake = self.uptake
        return [
            Table(
                _("Referrals by referring organisation"),
                [_("Organisation"), _("Referrals")],
                self.partition(
                    "organisation", uptake.by_organisation, lambda key: key, total_cell=RECEIVED
                )[0],
                sheet_name=_("By referring organisation"),
            ),
            Table(
                _("Referrals by kind of referrer"),
                [_("Kind"), _("Referrals")],
                self.partition(
                    "kind",
                    uptake.by_organisation_kind,
                    lambda k: _label(KIND_LABELS, k),
                    total_cell=RECEIVED,
                )[0],
                sheet_name=_("By kind of referrer"),
            ),
            Table(
                _("Reasons for referral (a referral can have several)"),
                [_("Reason"), _("Referrals")],
                [
                    [
                        _label(REASON_LABELS, reason.value),
                        self.count(uptake.by_reason.get(reason.value, 0), "reason", reason.value),
                    ]
                    for reason in Reason
                ],
                sheet_name=_("Reasons for referral"),
            ),
        ]

    def wait_rows(self) -> dict[str, list]:
        """Per stage: its label, the referrals per band, and the referrals that got that far."""
        rows = {}
        for stage, label in WAIT_STAGES:
            days_waited = self.uptake.wait_days.get(stage, {})
            bands = [
                self.count(n, "wait", stage, band) for band, n in enumerate(wait_bands(days_waited))
            ]
            rows[stage] = [str(label), *bands, self.count(sum(days_waited.values()), "wait", stage)]
        return rows

    def funnel_tables(self, funnel: dict[str, Shown], waits) -> list[Table]:
        uptake = self.uptake
        dropout_counts = {
            reason.value: uptake.dropout_reasons.get(reason.value, 0) for reason in DropoutReason
        }
        header = [_("From referral to"), *(str(label) for _, label in WAIT_BANDS), _("Referrals")]
        wait_rows = [list(row) for row in waits.values()]
        if not self.protected:
            header += [_("Median"), _("90th percentile")]
            for row, wait in zip(
                wait_rows,
                (uptake.wait_to_offer, uptake.wait_to_acceptance, uptake.wait_to_first_session),
                strict=True,
            ):
                row += [_days(wait.median), _days(wait.p90)]
        return [
            Table(
                _("From referral to result"),
                [_("Stage"), _("Referrals")],
                [[str(FUNNEL_LABELS[stage]), funnel[stage]] for stage in FUNNEL],
            ),
            Table(
                _("Reasons for dropping out"),
                [_("Reason"), _("Trajectories")],
                self.partition(
                    "dropout", dropout_counts, lambda k: _label(DROPOUT_REASON_LABELS, k)
                )[0],
            ),
            Table(_("Waiting times"), header, wait_rows),
        ]

    def outcome_tables(self) -> list[Table]:
        rows = self.outcome_rows(self.uptake.outcomes, "outcome")
        header = self.outcome_header()
        tables = [Table(_("Outcomes from intake to end"), header, rows, sheet_name=_("Outcomes"))]
        return tables + self.k10_band_tables(
            self.uptake.outcomes,
            ("k10_intake", "k10_end"),
            _("K10 distress bands before and after"),
            _("At the end"),
            _("K10 before and after"),
        )

    def k10_band_tables(
        self, found, cells: tuple[str, str], title: str, later: str, sheet: str
    ) -> list[Table]:
        """The K10 bands at intake and at a later moment (the end, the follow-up) of the
        pairs in `found`, each column a partition with its total; `cells` names the two."""
        tables = []
        for outcome in found:
            if outcome.instrument != "k10":
                continue
            columns = [
                self.partition(name, {b: counts.get(b, 0) for b in BAND_LABELS}, str)[1:]
                for name, counts in zip(
                    cells, (outcome.bands_before, outcome.bands_after), strict=True
                )
            ]
            (before, before_total), (after, after_total) = columns
            band_rows: list[list[object]] = [
                [str(label), before[b], after[b]] for b, label in BAND_LABELS.items()
            ]
            band_rows.append([_("Total"), before_total, after_total])
            tables.append(
                Table(title, [_("Band"), _("At intake"), later], band_rows, sheet_name=sheet)
            )
        return tables

    def costs_table(self, funnel: dict[str, Shown], delivered: Shown) -> Table:
        cost = self.cost(delivered)

        def per(stage: str) -> Figure | str:
            count = funnel[stage].value
            return _amount(round(cost / count)) if cost is not None and count else "–"

        return Table(
            _("Costs"),
            [_("Item"), _("Amount")],
            [
                [_("Sessions delivered (present)"), delivered],
                [_("Tariff per session"), _amount(self.uptake.tariff_cents)],
                [_("Cost of sessions delivered"), _amount(cost) if cost is not None else "–"],
                [_("Cost per started trajectory"), per("started")],
                [_("Cost per completed trajectory"), per("completed")],
                [
                    _("Budget (funded places x sessions x tariff)"),
                    _amount(self.uptake.budget_cents),
                ],
            ],
        )


def rounding_of(uptake: Uptake):
    """The rounding of this programme's figures for this period, with what the period holds."""
    return roundings_of(uptake).period


def roundings_of(uptake: Uptake) -> Roundings:
    """The roundings of this programme's figures: for the period with what it holds, for each
    month with what that month holds, for the state at the period's end, and for figures that
    do not depend on the period."""
    from flask import current_app

    secret, programme = current_app.config["SECRET_KEY"], uptake.programme_id
    return Roundings(
        period=rounding_for(
            secret, programme, uptake.start.isoformat(), uptake.end.isoformat(), uptake.fingerprint
        ),
        at_end=rounding_for(secret, programme, "at the end of", uptake.end.isoformat()),
        steady=rounding_for(secret, programme, "steady"),
        months={
            month: rounding_for(secret, programme, "month", month, fingerprint)
            for month, fingerprint in uptake.month_fingerprints.items()
        },
    )


def protected(uptake: Uptake) -> DashboardView:
    """The figures as officers, the downloads and the funder report show them."""
    return build(uptake, roundings_of(uptake))


def build(uptake: Uptake, roundings: Roundings = EXACT_ROUNDINGS) -> DashboardView:
    """The figures of `uptake`, in sections, for the page, the exports and the PDF: exact, or
    through `roundings` (roundings_of)."""
    return _Builder(uptake, roundings).view()


MAX_AREAS = 120  # postcode areas in the table and on the map; more are grouped by PC3 or PC2
MONTHS_IN_ONE_CHART = 24  # a chart of more rows no longer fits on a page of the report


def _month_charts(months: dict[str, Shown]) -> list[Chart]:
    """The month chart, or for a period of more than two years one chart per calendar year.
    The same shown parts as the month table: a withheld month gets no bar, only its text."""
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


def _funnel_chart(funnel: dict[str, Shown]) -> Chart:
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
