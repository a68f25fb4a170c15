"""The fixed reporting periods of protected figures (officers, the downloads and the funder
report): whole calendar months, quarters and years, and the programme to date.

Every period ends at the end of the last complete month: a month still running would change
with every new referral, and two downloads a day apart would differ by that day's referrals.
A quarter or year still running is shown up to the end of the last complete month ("to date").
So an officer can ask for a bounded set of periods, each of which only changes when a month
closes; services.uptake.disclosure rounds the counts of each.

Keys, as in a URL: "2026-10" (a month), "2026-Q4" (a quarter), "2026" (a year), "all".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import format_date
from flask_babel import gettext as _

from referrals.models import Programme
from referrals.models import base as clock

MONTH, QUARTER, YEAR, ALL = "month", "quarter", "year", "all"


@dataclass(frozen=True)
class Period:
    key: str
    kind: str
    start: date
    end: date
    to_date: bool = False  # a quarter, year or programme cut at the last complete month

    @property
    def label(self) -> str:
        last = format_date(self.end, "MMMM yyyy")
        if self.kind == MONTH:
            return format_date(self.start, "MMMM yyyy")
        if self.kind == QUARTER:
            name = _(
                "Q%(quarter)s %(year)s",
                quarter=(self.start.month - 1) // 3 + 1,
                year=self.start.year,
            )
        elif self.kind == YEAR:
            name = str(self.start.year)
        else:
            return _("Programme to date (up to and including %(month)s)", month=last)
        return (
            _("%(period)s, up to and including %(month)s", period=name, month=last)
            if (self.to_date)
            else name
        )


def _month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def last_complete_month_end(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


def available(programme: Programme, today: date | None = None) -> list[Period]:
    """Every period that may be asked for today, newest first within each kind: the programme
    to date, the years, the quarters, the months. Empty before the programme's first month is
    complete."""
    today = today or clock.local_today()
    last = last_complete_month_end(today)
    first = programme.starts_on.replace(day=1)
    if last < first:
        return []
    months: list[Period] = []
    day = first
    while day <= last:
        months.append(Period(f"{day.year:04d}-{day.month:02d}", MONTH, day, _month_end(day)))
        day = _month_end(day) + timedelta(days=1)
    quarters: dict[str, Period] = {}
    years: dict[str, Period] = {}
    for month in months:
        number = (month.start.month - 1) // 3 + 1
        quarter_start = date(month.start.year, 3 * number - 2, 1)
        quarter_end = _month_end(date(month.start.year, 3 * number, 1))
        key = f"{month.start.year:04d}-Q{number}"
        quarters[key] = Period(
            key, QUARTER, quarter_start, min(quarter_end, last), to_date=quarter_end > last
        )
        year_end = date(month.start.year, 12, 31)
        years[str(month.start.year)] = Period(
            str(month.start.year),
            YEAR,
            date(month.start.year, 1, 1),
            min(year_end, last),
            to_date=year_end > last,
        )
    programme_to_date = Period(
        ALL, ALL, first, last, to_date=programme.ends_on is None or programme.ends_on > last
    )
    return [
        programme_to_date,
        *reversed(list(years.values())),
        *reversed(list(quarters.values())),
        *reversed(months),
    ]


def find(programme: Programme, key: str | None, today: date | None = None) -> Period | None:
    """The period with this key, if it may be asked for today."""
    if not key:
        return None
    return next((p for p in available(programme, today) if p.key == key), None)


def default(programme: Programme, today: date | None = None) -> Period | None:
    """The year of the last complete month (to date, when it is still running)."""
    periods = available(programme, today)
    return next((p for p in periods if p.kind == YEAR), None)


def named(periods: list[Period], start: date, end: date) -> Period | None:
    """The period among `periods` that is exactly [start, end], if there is one."""
    return next((p for p in periods if (p.start, p.end) == (start, end)), None)
