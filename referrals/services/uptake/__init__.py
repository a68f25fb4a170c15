"""Programme uptake for funders: the figures behind the dashboard, the exports and the report.

Definitions (the report's method note repeats them):
- The cohort is the referrals *received* (submitted) in the period. The funnel, the waiting
  times, the outcomes and the cost per started or completed trajectory are about that cohort,
  followed to today.
- offered: ever offered to a therapist; accepted: a trajectory exists; started: a first session
  was attended; completed / dropped out / regular sport: how the trajectory was closed.
- Waiting times in days, from submission to the first offer, to acceptance and to the first
  attended session; median and 90th percentile (nearest rank).
- Activity in the period: sessions held in the period, attendance rate = present / all logged
  attendances, sessions delivered = present attendances; cost = sessions delivered x tariff.
- Budget = funded places x supervised sessions x tariff.
- Outcomes: trajectories of the cohort with the same instrument at intake and at the end.

Everything is raw counts here; services.disclosure decides what may be shown. The number of
queries does not depend on the number of referrals.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    LOCAL_ZONE,
    Attendance,
    Moment,
    Offer,
    Organisation,
    Outcome,
    Programme,
    QuestionnaireResponse,
    Referral,
    SessionAttendance,
    Therapist,
    Trajectory,
    programme_therapists,
)
from referrals.services.trajectories.questionnaires import get_instrument

# A change in score that counts as clinically relevant, per instrument (in score units).
# WHO-5: 10 points on the 0-100 scale (Topp et al. 2015). K10 and MHC-SF have no single
# agreed minimal important change; these are conservative working values, to be confirmed
# with the programme's funders before results are compared across programmes.
RELEVANT_CHANGE = {"who5": 10.0, "k10": 5.0, "mhc_sf": 0.5}


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
    tariff_cents: int = 0
    budget_cents: int = 0

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


def _utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period as Dutch days, in UTC: from start 00:00 to the day after end 00:00."""
    first = datetime.combine(start, time.min, LOCAL_ZONE).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time.min, LOCAL_ZONE).astimezone(UTC)
    return first, after


def programme_uptake(programme: Programme, start: date, end: date) -> Uptake:
    """All dashboard figures of one programme for the period [start, end] (Dutch days)."""
    first, after = _utc_bounds(start, end)
    uptake = Uptake(
        programme_id=programme.id,
        start=start,
        end=end,
        funded_places=programme.funded_places,
        tariff_cents=programme.tariff_cents,
        budget_cents=programme.funded_places
        * programme.supervised_sessions
        * programme.tariff_cents,
    )
    _cohort(uptake, programme, first, after)
    _activity(uptake, programme, start, end, after)
    _capacity(uptake, programme)
    _outcomes(uptake, programme, first, after)
    return uptake


def months_of(start: date, end: date) -> list[str]:
    """Every calendar month the period touches, as "2026-10", oldest first."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _month_buckets(first: datetime, after: datetime):
    """A CASE giving each submission its Dutch calendar month ("2026-10"), exact on both
    databases: the month starts are worked out here, in Amsterdam time."""
    local = first.astimezone(LOCAL_ZONE)
    month = date(local.year, local.month, 1)
    whens = []
    while True:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        following_at = datetime.combine(following, time.min, LOCAL_ZONE).astimezone(UTC)
        whens.append((Referral.submitted_at < min(following_at, after), month.strftime("%Y-%m")))
        if following_at >= after:
            break
        month = following
    return sa.case(*whens, else_=sa.null())


def _days(later, earlier):
    """Days from one timestamp column to another, as a float, in SQL."""
    if db.engine.dialect.name == "sqlite":
        return sa.func.julianday(later) - sa.func.julianday(earlier)
    return sa.func.extract("epoch", later - earlier) / 86400.0


def _days_to_date(day, moment):
    """Whole days from a timestamp's Dutch date to a date column, in SQL. SQLite has no time
    zones: it takes UTC+1, so a submission in the first hour after midnight in summer counts
    one day earlier there."""
    if db.engine.dialect.name == "sqlite":
        return sa.func.julianday(day) - sa.func.julianday(sa.func.date(moment, "+1 hour"))
    return day - sa.cast(sa.func.timezone("Europe/Amsterdam", moment), sa.Date)


def _cohort(uptake: Uptake, programme: Programme, first: datetime, after: datetime) -> None:
    in_cohort = (
        Referral.programme_id == programme.id,
        Referral.submitted_at >= first,
        Referral.submitted_at < after,
    )
    # Per referral, from the offers' referral index: a join of the offers to the cohort
    # made PostgreSQL read every offer in the country.
    first_offer = (
        sa.select(sa.func.min(Offer.offered_at))
        .where(Offer.referral_id == Referral.id)
        .correlate(Referral)
        .scalar_subquery()
    )
    # One row per referral, of plain values only (no enum or time objects to build): the
    # waiting times need every value, and counting the rest in Python costs less than a
    # second query over the same joins.
    rows = db.session.execute(
        sa.select(
            _month_buckets(first, after),
            Referral.referring_organisation_id,
            Referral.reasons,
            sa.type_coerce(Trajectory.outcome, sa.String),
            sa.type_coerce(Trajectory.dropout_reason, sa.String),
            sa.type_coerce(_days(first_offer, Referral.submitted_at), sa.Float),
            sa.type_coerce(_days(Trajectory.started_at, Referral.submitted_at), sa.Float),
            sa.type_coerce(
                _days_to_date(Trajectory.first_session_on, Referral.submitted_at), sa.Float
            ),
        )
        .outerjoin(Trajectory, Trajectory.referral_id == Referral.id)
        .where(*in_cohort)
    ).all()
    months, by_organisation, reasons = Counter(), Counter(), Counter()
    funnel, dropouts = Counter({stage: 0 for stage in FUNNEL}), Counter()
    to_offer, to_acceptance, to_session = [], [], []
    for month, organisation_id, referral_reasons, outcome, dropout, offer, accept, session in rows:
        months[month] += 1
        by_organisation[organisation_id] += 1
        reasons.update(set(referral_reasons or []))
        if offer is not None:
            to_offer.append(float(offer))
        if accept is not None:
            to_acceptance.append(float(accept))
        if session is not None:
            to_session.append(float(session))
        if outcome is not None:
            funnel[outcome] += 1
            if outcome == Outcome.DROPPED_OUT.value and dropout is not None:
                dropouts[dropout] += 1
    funnel["referred"] = len(rows)
    funnel["offered"], funnel["accepted"] = len(to_offer), len(to_acceptance)
    funnel["started"] = len(to_session)
    organisations, kinds = Counter(), Counter()
    for organisation_id, name, kind in db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.kind).where(
            Organisation.id.in_(list(by_organisation))
        )
    ):
        organisations[name] += by_organisation[organisation_id]
        kinds[kind.value] += by_organisation[organisation_id]
    uptake.received = funnel["referred"]
    # Every month of the period, also those without referrals: a month left out of the
    # table or the chart would look like a gap in the data rather than a zero.
    uptake.by_month = {month: months.get(month, 0) for month in months_of(uptake.start, uptake.end)}
    uptake.by_organisation = dict(sorted(organisations.items()))
    uptake.by_organisation_kind = dict(sorted(kinds.items()))
    uptake.by_reason = dict(sorted(reasons.items()))
    uptake.funnel = {stage: funnel[stage] for stage in FUNNEL}
    uptake.dropout_reasons = dict(sorted(dropouts.items()))
    uptake.wait_to_offer = Wait.of(to_offer)
    uptake.wait_to_acceptance = Wait.of(to_acceptance)
    uptake.wait_to_first_session = Wait.of(to_session)


def _activity(uptake: Uptake, programme: Programme, start: date, end: date, after) -> None:
    attendance = db.session.execute(
        sa.select(SessionAttendance.attendance, sa.func.count())
        .where(
            SessionAttendance.programme_id == programme.id,
            SessionAttendance.held_on >= start,
            SessionAttendance.held_on <= end,
        )
        .group_by(SessionAttendance.attendance)
    ).all()
    counts = {a.value: 0 for a in Attendance}
    counts.update({status.value: n for status, n in attendance})
    uptake.attendance = counts
    uptake.sessions_delivered = counts[Attendance.PRESENT.value]
    # Active at the end of the period: accepted by then, not closed by then.
    uptake.active_participants = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Trajectory)
        .where(
            Trajectory.programme_id == programme.id,
            Trajectory.started_at < after,
            sa.or_(Trajectory.closed_at.is_(None), Trajectory.closed_at >= after),
        )
    )


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


def _outcomes(uptake: Uptake, programme: Programme, first: datetime, after: datetime) -> None:
    intake = sa.orm.aliased(QuestionnaireResponse)
    end = sa.orm.aliased(QuestionnaireResponse)
    change = end.score - intake.score
    improved = sa.case(
        *(
            (
                intake.instrument == key,
                sa.case(
                    (
                        (change if get_instrument(key).higher_is_better else -change)
                        >= RELEVANT_CHANGE.get(key, 0.0),
                        1,
                    ),
                    else_=0,
                ),
            )
            for key in programme.questionnaires
            if RELEVANT_CHANGE.get(key, 0.0) > 0
        ),
        else_=0,
    )
    rows = db.session.execute(
        sa.select(
            intake.instrument,
            intake.category.label("before"),
            end.category.label("after"),
            sa.func.count().label("n"),
            sa.func.sum(change).label("change"),
            sa.func.sum(improved).label("improved"),
        )
        .join(
            end,
            sa.and_(
                end.trajectory_id == intake.trajectory_id,
                end.instrument == intake.instrument,
                end.moment == Moment.END,
                end.score.is_not(None),
            ),
        )
        .join(Trajectory, Trajectory.id == intake.trajectory_id)
        .join(Referral, Referral.id == Trajectory.referral_id)
        .where(
            Trajectory.programme_id == programme.id,
            Referral.programme_id == programme.id,
            Referral.submitted_at >= first,
            Referral.submitted_at < after,
            intake.moment == Moment.INTAKE,
            intake.score.is_not(None),
        )
        .group_by(intake.instrument, intake.category, end.category)
    ).all()
    for key in programme.questionnaires:
        instrument = get_instrument(key)
        mine = [row for row in rows if row.instrument == key]
        pairs = sum(row.n for row in mine)
        before, after_ = Counter(), Counter()
        for row in mine:
            if row.before is not None:
                before[row.before] += row.n
            if row.after is not None:
                after_[row.after] += row.n
        uptake.outcomes.append(
            InstrumentOutcome(
                instrument=key,
                name=instrument.name,
                higher_is_better=instrument.higher_is_better,
                pairs=pairs,
                mean_change=sum(float(row.change) for row in mine) / pairs if pairs else None,
                improved=sum(int(row.improved or 0) for row in mine),
                bands_before=dict(before),
                bands_after=dict(after_),
            )
        )
