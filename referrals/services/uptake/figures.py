"""A programme's figures as counters, counted live or added up from the monthly summary.

A Tally maps (figure, key) to [count, total]:

    ("month", "2026-10")            referrals submitted in that Dutch month
    ("organisation", "<id>")        ... by the referring organisation
    ("reason", "stress")            ... with that reason (a referral may have several)
    ("funnel", stage)               offered, accepted, started, completed, dropped_out, ...
    ("dropout", reason)             dropped out, by reason
    ("wait_offer", "<days>")        days from submission to the first offer (Dutch dates)
    ("wait_acceptance", "<days>")   ... to acceptance
    ("wait_session", "<days>")      ... to the first attended session
    ("outcome", "k10|high|low")     pairs of intake and end score by band; total: sum of change
    ("improved", "k10")             pairs with a relevant change in the good direction
    ("cohort", "")                  referrals submitted; total: the sum of their referral_key
    ("cohort_month", "2026-10")     ... per month of submission
    ("age", "30-49")                ... by the participant's age band on the day of submission
    ("pc4", "2201")                 ... by the participant's PC4 area
    ("intake_band", "k10|high")     ... with an intake score, by instrument and band
    ("follow_outcome", "k10|high|low")  pairs of intake and follow-up score by band (total:
                                    the sum of change), ("follow_improved", "k10") as above
    ("cohort_closed", "2026-12")    trajectories of the cohort closed in that Dutch month
    ("follow_measured", "2026-12")  ... of which with a follow-up score of any questionnaire
    ("sport_closing", "running_club")  closed to regular sport, by where
    ("sport_follow_up", "none")     regular sport at the follow-up, by where or "none"
    ("attendance", status)          attendances logged, by the session's date
    ("started", ""), ("closed", "") trajectories started and closed (for "active at the end")
    ("first_day", ""), ("last_day", "")  the earliest and latest date of any of the above, as
                                    a date ordinal (monthly rows only, never added up)

All but "attendance", "started", "closed" and the bounds are about the cohort (referrals
submitted in the period, followed to today); attendance is about the period's sessions.
`live_tally` counts a period from the rows.
`summary_tally` gives the same answer from programme_figures: every month that lies wholly in
the period, or whose data all lies in it (the current month up to today), from the summary,
and only the remaining partial months at the edges live. `refresh` first counts again every
month that the database triggers have marked as changed (models.figures).
tests/test_figures.py holds the summary equal to the live count.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    LOCAL_ZONE,
    FigureMark,
    Moment,
    Offer,
    Outcome,
    Participant,
    ProgrammeFigure,
    QuestionnaireResponse,
    Referral,
    SessionAttendance,
    Trajectory,
)
from referrals.services.trajectories.questionnaires import get_instrument

# A change in score that counts as clinically relevant, per instrument (in score units).
# WHO-5: 10 points on the 0-100 scale (Topp et al. 2015). K10 and MHC-SF have no single
# agreed minimal important change; these are conservative working values, to be confirmed
# with the programme's funders before results are compared across programmes.
RELEVANT_CHANGE = {"who5": 10.0, "k10": 5.0, "mhc_sf": 0.5}

# Counters that describe one month and are never added across months.
BOUNDS = ("first_day", "last_day")


class Tally(defaultdict):
    """(figure, key) -> [count, total]."""

    def __init__(self):
        super().__init__(lambda: [0, 0.0])

    def add(self, figure: str, key: str = "", count: int = 1, total: float = 0.0) -> None:
        cell = self[(figure, key)]
        cell[0] += count
        cell[1] += total

    def merge(self, other: Tally) -> Tally:
        for (figure, key), (count, total) in other.items():
            if figure not in BOUNDS:
                self.add(figure, key, count, total)
        return self

    def count(self, figure: str, key: str = "") -> int:
        cell = self.get((figure, key))
        return cell[0] if cell else 0

    def of(self, figure: str) -> dict[str, list]:
        return {key: cell for (name, key), cell in self.items() if name == figure and cell[0]}


def referral_key(referral_id: int) -> int:
    """A fixed pseudo-random number per referral (under 2**24), so that the sum over a cohort
    changes whenever one referral joins or leaves it. Sums stay exact as floats."""
    digest = hashlib.blake2b(str(referral_id).encode(), digest_size=3).digest()
    return int.from_bytes(digest, "big")


AGE_BANDS = ((18, 29), (30, 49), (50, 64), (65, None))


def age_band(born: date | None, day: date) -> str:
    """The age band ("18-29", ..., "65+") of someone born on `born` on `day`; "other" for an
    age below 18 (a programme for the young) or no date of birth."""
    if born is None:
        return "other"
    age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    for low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return f"{low}+" if high is None else f"{low}-{high}"
    return "other"


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    year, number = int(month[:4]), int(month[5:])
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, following - timedelta(days=1)


def months_of(start: date, end: date) -> list[str]:
    """Every calendar month the period touches, as "2026-10", oldest first."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period as Dutch days, in UTC: from start 00:00 to the day after end 00:00."""
    first = datetime.combine(start, time.min, LOCAL_ZONE).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time.min, LOCAL_ZONE).astimezone(UTC)
    return first, after


def dutch_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL_ZONE).date()


# --- counting from the rows ---------------------------------------------------------------


Ranges = list[tuple[date, date]]  # [start, end] in Dutch days, not overlapping


def live_tally(programme, ranges: Ranges) -> Tally:
    """The counters of the periods in `ranges`, counted from the rows in a fixed number of
    queries (none for no ranges)."""
    tally = Tally()
    if not ranges:
        return tally
    days: list[date] = []
    instants = [utc_bounds(start, end) for start, end in ranges]
    _cohort(tally, days, programme.id, instants)
    _outcomes(tally, programme.id, instants)
    _outcomes(tally, programme.id, instants, Moment.FOLLOW_UP, "follow_outcome", "follow_improved")
    _intake_bands(tally, programme.id, instants)
    _activity(tally, days, programme.id, ranges)
    _trajectory_counts(tally, days, programme.id, instants)
    if days:
        tally.add("first_day", count=min(days).toordinal())
        tally.add("last_day", count=max(days).toordinal())
    return tally


def _within(column, bounds: list[tuple]) -> sa.ColumnElement[bool]:
    """column in any of the half-open [first, after) bounds."""
    return sa.or_(sa.false(), *(sa.and_(column >= a, column < b) for a, b in bounds))


def _cohort(tally: Tally, days: list[date], programme_id: int, instants) -> None:
    # Per referral, from the offers' referral index: a join of the offers to the cohort
    # made PostgreSQL read every offer in the country.
    first_offer = (
        sa.select(sa.func.min(Offer.offered_at))
        .where(Offer.referral_id == Referral.id)
        .correlate(Referral)
        .scalar_subquery()
    )
    followed_up = (
        sa.select(QuestionnaireResponse.id)
        .where(
            QuestionnaireResponse.trajectory_id == Trajectory.id,
            QuestionnaireResponse.moment == Moment.FOLLOW_UP,
            QuestionnaireResponse.score.is_not(None),
        )
        .correlate(Trajectory)
        .exists()
    )
    rows = db.session.execute(
        sa.select(
            Referral.id,
            Referral.submitted_at,
            Referral.referring_organisation_id,
            Referral.reasons,
            sa.type_coerce(Trajectory.outcome, sa.String),
            sa.type_coerce(Trajectory.dropout_reason, sa.String),
            first_offer,
            Trajectory.started_at,
            Trajectory.first_session_on,
            Participant.date_of_birth,
            Participant.postcode,
            Trajectory.closed_at,
            sa.type_coerce(Trajectory.regular_sport, sa.String),
            Trajectory.sport_at_follow_up,
            followed_up,
        )
        .join(Participant, Participant.id == Referral.participant_id)
        .outerjoin(Trajectory, Trajectory.referral_id == Referral.id)
        .where(Referral.programme_id == programme_id, _within(Referral.submitted_at, instants))
    ).all()
    for (
        referral_id,
        submitted,
        organisation_id,
        reasons,
        outcome,
        dropout,
        offered,
        accepted,
        session,
        born,
        postcode,
        closed,
        sport,
        sport_later,
        measured_later,
    ) in rows:
        day = dutch_date(submitted)
        days.append(day)
        tally.add("month", month_key(day))
        tally.add("cohort", total=referral_key(referral_id))
        tally.add("cohort_month", month_key(day), total=referral_key(referral_id))
        tally.add("age", age_band(born, day))
        tally.add("pc4", (postcode or "")[:4])
        if closed is not None:
            tally.add("cohort_closed", month_key(dutch_date(closed)))
            if measured_later:
                tally.add("follow_measured", month_key(dutch_date(closed)))
            if outcome == Outcome.REGULAR_SPORT.value and sport:
                tally.add("sport_closing", sport)
        if sport_later:
            tally.add("sport_follow_up", sport_later)
        tally.add("organisation", str(organisation_id))
        for reason in set(reasons or []):
            tally.add("reason", reason)
        if offered is not None:
            tally.add("funnel", "offered")
            tally.add("wait_offer", str((dutch_date(offered) - day).days))
        if accepted is not None:
            tally.add("funnel", "accepted")
            tally.add("wait_acceptance", str((dutch_date(accepted) - day).days))
        if session is not None:
            tally.add("funnel", "started")
            tally.add("wait_session", str((session - day).days))
        if outcome is not None:
            tally.add("funnel", outcome)
            if outcome == Outcome.DROPPED_OUT.value and dropout is not None:
                tally.add("dropout", dropout)


def _outcomes(
    tally: Tally,
    programme_id: int,
    instants,
    moment: Moment = Moment.END,
    figure: str = "outcome",
    improved_figure: str = "improved",
) -> None:
    """Pairs of an intake and a later score (the end, or the follow-up) of the cohort."""
    intake = sa.orm.aliased(QuestionnaireResponse)
    end = sa.orm.aliased(QuestionnaireResponse)
    change = end.score - intake.score
    improved = sa.case(
        *(
            (
                intake.instrument == key,
                sa.case(
                    (
                        (change if get_instrument(key).higher_is_better else -change) >= threshold,
                        1,
                    ),
                    else_=0,
                ),
            )
            for key, threshold in RELEVANT_CHANGE.items()
        ),
        else_=0,
    )
    paired = sa.select(
        intake.instrument,
        intake.category,
        end.category,
        sa.func.count(),
        sa.func.sum(change),
        sa.func.sum(improved),
    ).join(
        end,
        sa.and_(
            end.trajectory_id == intake.trajectory_id,
            end.instrument == intake.instrument,
            end.moment == moment,
            end.score.is_not(None),
        ),
    )
    rows = db.session.execute(
        _cohort_intakes(paired, intake, programme_id, instants).group_by(
            intake.instrument, intake.category, end.category
        )
    ).all()
    for instrument, before, after_, pairs, change_sum, improved_sum in rows:
        tally.add(figure, f"{instrument}|{before or ''}|{after_ or ''}", pairs, float(change_sum))
        if improved_sum:
            tally.add(improved_figure, instrument, int(improved_sum))


def _cohort_intakes(query: sa.Select, intake, programme_id: int, instants) -> sa.Select:
    """`query` of the scored intake responses (`intake`: the response entity or an alias of
    it) of the programme's cohort: referrals submitted within `instants`."""
    return (
        query.join(Trajectory, Trajectory.id == intake.trajectory_id)
        .join(Referral, Referral.id == Trajectory.referral_id)
        .where(
            Trajectory.programme_id == programme_id,
            Referral.programme_id == programme_id,
            _within(Referral.submitted_at, instants),
            intake.moment == Moment.INTAKE,
            intake.score.is_not(None),
        )
    )


def _intake_bands(tally: Tally, programme_id: int, instants) -> None:
    """The cohort's intake scores by instrument and band (all of them, with or without an
    end score: the reach against the municipality's K10 figures)."""
    response = QuestionnaireResponse
    bands = sa.select(response.instrument, response.category, sa.func.count())
    rows = db.session.execute(
        _cohort_intakes(bands, response, programme_id, instants).group_by(
            response.instrument, response.category
        )
    ).all()
    for instrument, band, count in rows:
        tally.add("intake_band", f"{instrument}|{band or ''}", count)


def _activity(tally: Tally, days: list[date], programme_id: int, ranges: Ranges) -> None:
    rows = db.session.execute(
        sa.select(
            sa.type_coerce(SessionAttendance.attendance, sa.String),
            sa.func.count(),
            sa.func.min(SessionAttendance.held_on),
            sa.func.max(SessionAttendance.held_on),
        )
        .where(
            SessionAttendance.programme_id == programme_id,
            _within(SessionAttendance.held_on, [(a, b + timedelta(days=1)) for a, b in ranges]),
        )
        .group_by(SessionAttendance.attendance)
    ).all()
    for status, count, earliest, latest in rows:
        tally.add("attendance", status, count)
        days.extend((earliest, latest))


def _trajectory_counts(tally: Tally, days: list[date], programme_id: int, instants) -> None:
    """Trajectories started and closed in the periods, with their first and last dates."""
    started, closed = Trajectory.started_at, Trajectory.closed_at
    in_started, in_closed = _within(started, instants), _within(closed, instants)
    row = db.session.execute(
        sa.select(
            sa.func.count(sa.case((in_started, 1))),
            sa.func.min(sa.case((in_started, started))),
            sa.func.max(sa.case((in_started, started))),
            sa.func.count(sa.case((in_closed, 1))),
            sa.func.min(sa.case((in_closed, closed))),
            sa.func.max(sa.case((in_closed, closed))),
        ).where(Trajectory.programme_id == programme_id, sa.or_(in_started, in_closed))
    ).one()
    for figure, (count, earliest, latest) in (("started", row[:3]), ("closed", row[3:])):
        if count:
            tally.add(figure, count=count)
            days.extend((_aware(earliest), _aware(latest)))


def _aware(value) -> date:
    """The Dutch date of a timestamp read through min()/max() of a CASE (which drops the
    column's type, so SQLite gives a string and PostgreSQL an aware datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return dutch_date(value)


def live_active(programme_id: int, end: date) -> int:
    """Trajectories accepted by the end of the period and not closed by then."""
    _, after = utc_bounds(end, end)
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Trajectory)
        .where(
            Trajectory.programme_id == programme_id,
            Trajectory.started_at < after,
            sa.or_(Trajectory.closed_at.is_(None), Trajectory.closed_at >= after),
        )
    )


# --- the monthly summary ------------------------------------------------------------------


def _months_of_mark(day: date) -> set[str]:
    """The Dutch months a changed UTC date can belong to: its own, and the next one when it is
    a month's last day (22:00 UTC on 31 October is 1 November in Amsterdam)."""
    months = {month_key(day)}
    if (day + timedelta(days=1)).month != day.month:
        months.add(month_key(day + timedelta(days=1)))
    return months


def marked_months(programme_id: int) -> set[str]:
    """The months whose summary rows may be out of date (marked, not yet counted again)."""
    days = db.session.scalars(
        sa.select(FigureMark.day).where(FigureMark.programme_id == programme_id).distinct()
    )
    return {month for day in days for month in _months_of_mark(day)}


def refresh(programme) -> int:
    """Count again every month of the programme marked as changed; the number of months.

    The worker does this (`flask refresh-figures`); pages only read. The marks are deleted
    first and the months counted after, in the same transaction: a change committed before
    the delete is counted, and one still open while it runs keeps its own mark (not yet
    visible to the delete) for the next refresh. On PostgreSQL a transaction lock per
    programme keeps two refreshes of one programme from writing the same rows."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(:space, :id)"),
            {"space": 7_141_001, "id": programme.id},
        )
    days = db.session.scalars(
        sa.delete(FigureMark)
        .where(FigureMark.programme_id == programme.id)
        .returning(FigureMark.day)
    ).all()
    months = sorted({month for day in days for month in _months_of_mark(day)})
    if not months:
        return 0
    db.session.execute(
        sa.delete(ProgrammeFigure).where(
            ProgrammeFigure.programme_id == programme.id, ProgrammeFigure.month.in_(months)
        )
    )
    rows = []
    for month in months:
        tally = live_tally(programme, [month_bounds(month)])
        rows.extend(
            {
                "programme_id": programme.id,
                "month": month,
                "figure": figure,
                "key": key,
                "count": count,
                "total": total,
            }
            for (figure, key), (count, total) in tally.items()
            if count
        )
    if rows:
        db.session.execute(sa.insert(ProgrammeFigure), rows)
    return len(months)


def refresh_marked() -> tuple[int, int]:
    """Refresh every programme with marks, each in its own transaction; (programmes, months)."""
    from referrals.models import Programme

    programmes = months = 0
    ids = list(db.session.scalars(sa.select(FigureMark.programme_id).distinct()))
    db.session.commit()
    for programme_id in sorted(ids):
        programme = db.session.get(Programme, programme_id)
        if programme is None:  # deleted: its marks go, its rows went with it
            db.session.execute(sa.delete(FigureMark).where(FigureMark.programme_id == programme_id))
        else:
            months += refresh(programme)
            programmes += 1
        db.session.commit()
    return programmes, months


def summary_tally(programme, start: date, end: date) -> tuple[Tally, int]:
    """The counters of [start, end] and the trajectories active at its end: from the summary
    where it answers the period exactly, live for the rest (the partial months at the edges
    whose data reaches outside the period, and months marked as changed since they were
    counted). Four queries, and five more when some months are counted from the rows."""
    months = months_of(start, end)
    marked = marked_months(programme.id)
    edges = sorted({months[0], months[-1]})
    bounds = {
        (month, figure): count
        for month, figure, count in db.session.execute(
            sa.select(ProgrammeFigure.month, ProgrammeFigure.figure, ProgrammeFigure.count).where(
                ProgrammeFigure.programme_id == programme.id,
                ProgrammeFigure.month.in_(edges),
                ProgrammeFigure.figure.in_(BOUNDS),
            )
        )
    }

    def answered(month: str) -> bool:
        if month in marked:
            return False
        if month not in edges:
            return True
        first_day, last_day = bounds.get((month, "first_day")), bounds.get((month, "last_day"))
        if first_day is None:  # no data that month
            return True
        return first_day >= start.toordinal() and last_day <= end.toordinal()

    def clipped(month: str) -> tuple[date, date]:
        month_first, month_last = month_bounds(month)
        return max(start, month_first), min(end, month_last)

    summarised = [m for m in months if answered(m)]
    tally = live_tally(programme, [clipped(m) for m in months if m not in summarised])
    for figure, key, count, total in db.session.execute(
        sa.select(
            ProgrammeFigure.figure,
            ProgrammeFigure.key,
            sa.func.sum(ProgrammeFigure.count),
            sa.func.sum(ProgrammeFigure.total),
        )
        .where(
            ProgrammeFigure.programme_id == programme.id,
            ProgrammeFigure.month.in_(summarised),
            ProgrammeFigure.figure.not_in(BOUNDS),
        )
        .group_by(ProgrammeFigure.figure, ProgrammeFigure.key)
    ):
        tally.add(figure, key, int(count), float(total))
    # Active at the end: every trajectory started up to then minus every one closed, since
    # the programme began; live for the months the summary does not answer.
    last = months[-1]
    stale = sorted({m for m in marked if m <= last} | ({last} if last not in summarised else set()))
    ended = dict(
        db.session.execute(
            sa.select(ProgrammeFigure.figure, sa.func.sum(ProgrammeFigure.count))
            .where(
                ProgrammeFigure.programme_id == programme.id,
                ProgrammeFigure.month <= last,
                ProgrammeFigure.month.not_in(stale),
                ProgrammeFigure.figure.in_(("started", "closed")),
            )
            .group_by(ProgrammeFigure.figure)
        ).all()
    )
    partial = Tally()
    if stale:
        instants = [utc_bounds(a, min(b, end)) for a, b in map(month_bounds, stale)]
        _trajectory_counts(partial, [], programme.id, instants)
    started = int(ended.get("started") or 0) + partial.count("started")
    closed = int(ended.get("closed") or 0) + partial.count("closed")
    return tally, started - closed


def recount_all() -> tuple[int, int]:
    """Mark every programme day that has data and count every month again: for rows written
    with the triggers off (a bulk load as PostgreSQL's replica role), or to rebuild."""

    def utc_day(column):
        if db.engine.dialect.name == "sqlite":
            return sa.func.date(column)
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)

    days = sa.union(
        sa.select(Referral.programme_id, utc_day(Referral.submitted_at)),
        sa.select(SessionAttendance.programme_id, SessionAttendance.held_on),
        sa.select(Trajectory.programme_id, utc_day(Trajectory.started_at)),
        sa.select(Trajectory.programme_id, utc_day(Trajectory.closed_at)).where(
            Trajectory.closed_at.is_not(None)
        ),
    )
    db.session.execute(
        sa.insert(FigureMark).from_select([FigureMark.programme_id, FigureMark.day], days)
    )
    db.session.commit()
    return refresh_marked()
