"""Programme uptake for funders: the figures behind the dashboard, the exports and the report.

Definitions (the report's method note repeats them):
- The cohort is the referrals *received* (submitted) in the period. The funnel, the waiting
  times, the outcomes and the cost per started or completed trajectory are about that cohort,
  followed to today.
- offered: ever offered to a therapist; accepted: a trajectory exists; started: a first session
  was attended; completed / dropped out / regular sport: how the trajectory was closed.
- Waiting times in whole days, from the Dutch date of submission to that of the first offer,
  of acceptance and of the first attended session; median and 90th percentile (nearest rank).
- Activity in the period: sessions held in the period, attendance rate = present / all logged
  attendances, sessions delivered = present attendances; cost = sessions delivered x tariff.
- Budget = funded places x supervised sessions x tariff.
- Outcomes: trajectories of the cohort with the same instrument at intake and at the end.

Everything is raw counts here; services.disclosure decides what may be shown. The counts come
from services.uptake.figures: a monthly summary kept by the worker, so that the number of
queries and the rows read do not depend on the number of referrals.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    Attendance,
    Organisation,
    Programme,
    Therapist,
    programme_referrers,
    programme_therapists,
)
from referrals.models import base as clock
from referrals.services.trajectories.questionnaires import get_instrument
from referrals.services.uptake import figures, reach
from referrals.services.uptake.figures import RELEVANT_CHANGE, months_of

__all__ = ["RELEVANT_CHANGE", "months_of", "programme_uptake", "percentile"]


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of values at or
    below it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True)
class Wait:
    """Days waited, over the cohort members that got that far."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, days: list[float]) -> Wait:
        return cls(len(days), statistics.median(days) if days else None, percentile(days, 0.9))


@dataclass(frozen=True)
class InstrumentOutcome:
    instrument: str
    name: str
    higher_is_better: bool
    pairs: int  # trajectories with an intake and an end score
    mean_change: float | None  # end - intake, in score units
    improved: int  # relevant change in the good direction
    bands_before: dict[str, int] = field(default_factory=dict)
    bands_after: dict[str, int] = field(default_factory=dict)


@dataclass
class Uptake:
    programme_id: int
    start: date
    end: date
    received: int = 0
    by_month: dict[str, int] = field(default_factory=dict)  # "2026-10" -> count, every month
    by_organisation: dict[str, int] = field(default_factory=dict)  # organisation name
    by_organisation_kind: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)  # a referral may have several
    funnel: dict[str, int] = field(default_factory=dict)
    dropout_reasons: dict[str, int] = field(default_factory=dict)
    wait_to_offer: Wait = Wait(0, None, None)
    wait_to_acceptance: Wait = Wait(0, None, None)
    wait_to_first_session: Wait = Wait(0, None, None)
    attendance: dict[str, int] = field(default_factory=dict)
    sessions_delivered: int = 0
    active_participants: int = 0
    funded_places: int = 0
    capacity_in_use: int = 0
    capacity: int = 0
    outcomes: list[InstrumentOutcome] = field(default_factory=list)
    # The follow-up: intake to follow-up per instrument, the trajectories closed long enough
    # ago to be due for it (follow_up_due), and regular sport at closing and at the follow-up.
    follow_up_months: int | None = None
    follow_up_outcomes: list[InstrumentOutcome] = field(default_factory=list)
    follow_up_due: int = 0
    follow_up_measured: int = 0  # of those due, with a follow-up score
    sport_at_closing: dict[str, int] = field(default_factory=dict)
    sport_at_follow_up: dict[str, int] = field(default_factory=dict)
    tariff_cents: int = 0
    budget_cents: int = 0
    by_age: dict[str, int] = field(default_factory=dict)  # "30-49" -> referrals
    by_pc4: dict[int, int] = field(default_factory=dict)  # the participant's PC4 -> referrals
    intake_bands: dict[str, dict[str, int]] = field(default_factory=dict)  # "k10" -> band -> n
    need: reach.Need = field(default_factory=reach.Need)
    area: list[reach.AreaPc4] = field(default_factory=list)  # the programme's PC4 areas
    # Days waited, per stage ("offer", "acceptance", "session"): days -> referrals.
    wait_days: dict[str, dict[int, int]] = field(default_factory=dict)
    cohort_key: int = 0  # the sum of the cohort's referral keys (figures.referral_key)
    month_keys: dict[str, int] = field(default_factory=dict)  # the same per month

    @property
    def month_fingerprints(self) -> dict[str, str]:
        """Per month: what it holds (its referrals), for the rounding of its own row."""
        return {
            month: f"{count}|{self.month_keys.get(month, 0)}"
            for month, count in self.by_month.items()
        }

    @property
    def fingerprint(self) -> str:
        """What the period holds, for the rounding of its figures (services.disclosure):
        different whenever a referral or an attendance is added or removed, the same as long
        as neither is."""
        months = ",".join(f"{m}:{n}" for m, n in self.by_month.items())
        attendance = ",".join(f"{k}:{n}" for k, n in sorted(self.attendance.items()))
        return f"{self.received}|{self.cohort_key}|{months}|{attendance}"

    @property
    def attendance_logged(self) -> int:
        return sum(self.attendance.values())

    @property
    def cost_cents(self) -> int:
        return self.sessions_delivered * self.tariff_cents

    def cost_per(self, stage: str) -> int | None:
        count = self.funnel.get(stage, 0)
        return round(self.cost_cents / count) if count else None


FUNNEL = (
    "referred",
    "offered",
    "accepted",
    "started",
    "completed",
    "dropped_out",
    "regular_sport",
)


def programme_uptake(programme: Programme, start: date, end: date, *, live: bool = False) -> Uptake:
    """All dashboard figures of one programme for the period [start, end] (Dutch days): from
    the monthly summary (services.uptake.figures), or with `live` counted from the rows."""
    if live:
        tally = figures.live_tally(programme, [(start, end)])
        active = figures.live_active(programme.id, end)
    else:
        tally, active = figures.summary_tally(programme, start, end)
    uptake = Uptake(
        programme_id=programme.id,
        start=start,
        end=end,
        funded_places=programme.funded_places,
        tariff_cents=programme.tariff_cents,
        budget_cents=programme.funded_places
        * programme.supervised_sessions
        * programme.tariff_cents,
        active_participants=active,
    )
    uptake.need = reach.load_need(programme.id)
    uptake.area = reach.area_of(programme)
    _cohort(uptake, tally)
    _activity(uptake, tally)
    _capacity(uptake, programme)
    uptake.outcomes = _outcomes(programme, tally, "outcome", "improved")
    _follow_up(uptake, programme, tally)
    return uptake


def _wait(histogram: dict[str, list]) -> Wait:
    """Median and nearest-rank 90th percentile from days -> [count, total]: the same values
    statistics.median and percentile() give on the list of every referral's days."""
    counts = sorted((int(days), cell[0]) for days, cell in histogram.items())
    total = sum(count for _, count in counts)
    if not total:
        return Wait(0, None, None)

    def nth(rank: int) -> int:  # 1-based
        seen = 0
        for days, count in counts:
            seen += count
            if seen >= rank:
                return days
        raise AssertionError(rank)

    if total % 2:
        median: float = nth(total // 2 + 1)
    else:
        median = (nth(total // 2) + nth(total // 2 + 1)) / 2
    return Wait(total, median, nth(max(math.ceil(0.9 * total), 1)))


def _cohort(uptake: Uptake, tally: figures.Tally) -> None:
    """The cohort's counts. The programme's referring organisations (and their kinds) have a
    row also without referrals: a row that showed only for a count of one or more would tell
    that a "<5" is not 0, and a new row between two periods where the one extra person came
    from."""
    by_organisation = {int(key): cell[0] for key, cell in tally.of("organisation").items()}
    organisations, kinds = Counter(), Counter()
    referrers = sa.select(programme_referrers.c.organisation_id).where(
        programme_referrers.c.programme_id == uptake.programme_id
    )
    for organisation_id, name, kind in db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.kind).where(
            sa.or_(Organisation.id.in_(list(by_organisation)), Organisation.id.in_(referrers))
        )
    ):
        organisations[name] += by_organisation.get(organisation_id, 0)
        kinds[kind.value] += by_organisation.get(organisation_id, 0)
    funnel = {stage: tally.count("funnel", stage) for stage in FUNNEL}
    # Every month of the period, also those without referrals: a month left out of the
    # table or the chart would look like a gap in the data rather than a zero.
    uptake.by_month = {
        month: tally.count("month", month) for month in months_of(uptake.start, uptake.end)
    }
    funnel["referred"] = uptake.received = sum(uptake.by_month.values())
    uptake.by_organisation = dict(sorted(organisations.items()))
    uptake.by_organisation_kind = dict(sorted(kinds.items()))
    uptake.by_reason = {key: cell[0] for key, cell in sorted(tally.of("reason").items())}
    uptake.funnel = funnel
    uptake.dropout_reasons = {key: cell[0] for key, cell in sorted(tally.of("dropout").items())}
    uptake.cohort_key = round(tally.get(("cohort", ""), [0, 0.0])[1])
    uptake.month_keys = {key: round(cell[1]) for key, cell in tally.of("cohort_month").items()}
    uptake.by_age = {key: cell[0] for key, cell in sorted(tally.of("age").items())}
    uptake.by_pc4 = {
        int(key): cell[0] for key, cell in sorted(tally.of("pc4").items()) if key.isdigit()
    }
    for key, cell in tally.of("intake_band").items():
        instrument, band = key.split("|")
        uptake.intake_bands.setdefault(instrument, {})[band] = cell[0]
    uptake.wait_days = {
        stage: {int(days): cell[0] for days, cell in tally.of(f"wait_{stage}").items()}
        for stage in ("offer", "acceptance", "session")
    }
    uptake.wait_to_offer = _wait(tally.of("wait_offer"))
    uptake.wait_to_acceptance = _wait(tally.of("wait_acceptance"))
    uptake.wait_to_first_session = _wait(tally.of("wait_session"))


def _activity(uptake: Uptake, tally: figures.Tally) -> None:
    counts = {a.value: tally.count("attendance", a.value) for a in Attendance}
    uptake.attendance = counts
    uptake.sessions_delivered = counts[Attendance.PRESENT.value]


def _capacity(uptake: Uptake, programme: Programme) -> None:
    in_use, capacity = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Therapist.active_participants), 0),
            sa.func.coalesce(sa.func.sum(Therapist.capacity), 0),
        )
        .join(programme_therapists, programme_therapists.c.therapist_id == Therapist.id)
        .where(programme_therapists.c.programme_id == programme.id)
    ).one()
    uptake.capacity_in_use, uptake.capacity = int(in_use), int(capacity)


def _outcomes(
    programme: Programme, tally: figures.Tally, figure: str, improved_figure: str
) -> list[InstrumentOutcome]:
    """Per questionnaire of the programme: the pairs of an intake and a later score."""
    pairs_by_key = tally.of(figure)
    found = []
    for key in programme.questionnaires:
        instrument = get_instrument(key)
        before, after, pairs, change = Counter(), Counter(), 0, 0.0
        for combination, (count, total) in pairs_by_key.items():
            name, band_before, band_after = combination.split("|")
            if name != key:
                continue
            pairs += count
            change += total
            if band_before:
                before[band_before] += count
            if band_after:
                after[band_after] += count
        relevant = RELEVANT_CHANGE.get(key, 0.0) > 0
        found.append(
            InstrumentOutcome(
                instrument=key,
                name=instrument.name,
                higher_is_better=instrument.higher_is_better,
                pairs=pairs,
                mean_change=change / pairs if pairs else None,
                improved=tally.count(improved_figure, key) if relevant else 0,
                bands_before=dict(before),
                bands_after=dict(after),
            )
        )
    return found


def _follow_up(uptake: Uptake, programme: Programme, tally: figures.Tally) -> None:
    """The follow-up figures: due are the cohort's trajectories closed in a month that ended
    at least the programme's follow-up months before today (whole months, as the summary
    counts them: a trajectory closed on 1 June with a 3-month follow-up is due on the
    trajectory page from 1 September, and counted as due here from 1 October); measured and
    lost are of those due."""
    uptake.follow_up_months = programme.follow_up_months
    uptake.sport_at_closing = {k: c[0] for k, c in sorted(tally.of("sport_closing").items())}
    uptake.sport_at_follow_up = {k: c[0] for k, c in sorted(tally.of("sport_follow_up").items())}
    if not programme.follow_up_months:
        return
    uptake.follow_up_outcomes = _outcomes(programme, tally, "follow_outcome", "follow_improved")
    today = clock.local_today()
    latest = today.year * 12 + today.month - 1 - programme.follow_up_months - 1
    last_due = f"{latest // 12:04d}-{latest % 12 + 1:02d}"  # the last month now due
    uptake.follow_up_due = sum(
        cell[0] for month, cell in tally.of("cohort_closed").items() if month <= last_due
    )
    uptake.follow_up_measured = sum(
        cell[0] for month, cell in tally.of("follow_measured").items() if month <= last_due
    )
