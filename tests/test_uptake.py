"""Programme uptake figures on a small hand-built data set, worked out by hand below.

Period: October and November 2026 (Dutch days). Programme with K10 and MHC-SF.

    ref  from         submitted  offer after  accepted after  first session  outcome
    R1   GP practice  5 Oct      2 days       4 days          12 Oct (7 d)   completed (1 Dec)
    R2   GP practice  20 Oct     1 day        3 days          30 Oct (10 d)  dropped out: motivation
    R3   GP practice  3 Nov      5 days       -               -              -
    R4   GP practice  10 Nov     -            -               -              -
    R6   social team  15 Nov     12 hours     1 day           20 Nov (5 d)   regular sport
    R5   GP practice   25 Sep      (outside the cohort; its sessions in the period count)

Waiting to offer [2, 1, 5, 0.5]: median 1.5, p90 (nearest rank, ceil(0.9*4)=4th) 5.
To acceptance [4, 3, 1]: median 3, p90 4. To first session [7, 10, 5]: median 7, p90 10.
Attendance in the period: R1 3 present + 1 excused, R2 1 present + 1 absent, R5 2 present;
R1's session on 2 December is outside. Present 6 -> 6 x EUR 45.00 = EUR 270.00.
Active on 30 November: R1 (closed on 1 December) and R5 (open): 2.
K10 (lower is better): R1 30 -> 20 (high -> moderate), R6 28 -> 27 (high -> high), R2 has
only an intake: 2 pairs, mean change -5.5, improved by 5 or more: 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from referrals.models import (
    Attendance,
    DropoutReason,
    Moment,
    Offer,
    OfferState,
    Outcome,
    QuestionnaireResponse,
    Referral,
    Role,
    SessionAttendance,
    TrainingSession,
    Trajectory,
)
from referrals.services.uptake import percentile, programme_uptake
from referrals.services.uptake.uptake_view import wait_bands
from tests import factories

START, END = date(2026, 10, 1), date(2026, 11, 30)


def at(day: date, hour: int = 10) -> datetime:
    # 10:00 UTC is 11:00 or 12:00 in Amsterdam: the same Dutch day.
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def data(db, reporting_today):
    world = factories.make_world(social_team=True, therapist=False)
    world.gp_practice.name = "De Duinen"
    gp, social_team, programme = world.gp, world.social_worker, world.programme
    programme.questionnaires = ["k10", "mhc_sf"]
    therapist = factories.make_therapist(programmes=[programme], capacity=8, active_participants=3)
    factories.make_therapist(programmes=[programme], capacity=5, active_participants=1)
    factories.make_therapist(capacity=20, active_participants=20)  # another programme's
    user = factories.make_user(role=Role.THERAPIST)

    def referral(name, referrer, submitted):
        r = factories.make_referral(programme=programme, referrer=referrer, first_name=name)
        r.submitted_at = at(submitted)
        return r

    def offer(r, days):
        db.session.add(
            Offer(
                referral_id=r.id,
                therapist=therapist,
                offered_at=r.submitted_at + timedelta(days=days),
                deadline_at=r.submitted_at + timedelta(days=days + 5),
                state=OfferState.OPEN,
            )
        )

    def trajectory(r, accepted_days, first_session=None, outcome=None, closed=None, **kw):
        t = Trajectory(
            referral=r,
            therapist=therapist,
            started_at=r.submitted_at + timedelta(days=accepted_days),
            first_session_on=first_session,
            outcome=outcome,
            closed_at=at(closed) if closed else None,
            **kw,
        )
        db.session.add(t)
        return t

    def attend(t, day, status):
        session = TrainingSession(therapist=therapist, held_on=day, logged_by=user)
        present = status is Attendance.PRESENT
        db.session.add(
            SessionAttendance(
                session=session,
                held_on=day,
                trajectory=t,
                attendance=status,
                done_run_min=10 if present else None,
                done_total_min=30 if present else None,
            )
        )

    def score(t, moment, value, band):
        db.session.add(
            QuestionnaireResponse(
                trajectory=t,
                instrument="k10",
                moment=moment,
                taken_on=date(2026, 11, 1),
                answers={},
                score=value,
                category=band,
                recorded_by=user,
            )
        )

    r1 = referral("Een", gp, date(2026, 10, 5))
    r2 = referral("Twee", gp, date(2026, 10, 20))
    r3 = referral("Drie", gp, date(2026, 11, 3))
    referral("Vier", gp, date(2026, 11, 10))
    r5 = referral("Vijf", gp, date(2026, 9, 25))
    r6 = referral("Zes", social_team, date(2026, 11, 15))
    offer(r1, 2), offer(r2, 1), offer(r3, 5), offer(r6, 0.5), offer(r5, 1)
    offer(r1, 3)  # a second offer later: the first one counts
    t1 = trajectory(r1, 4, date(2026, 10, 12), Outcome.COMPLETED, date(2026, 12, 1))
    t2 = trajectory(
        r2,
        3,
        date(2026, 10, 30),
        Outcome.DROPPED_OUT,
        date(2026, 11, 5),
        dropout_reason=DropoutReason.MOTIVATION,
    )
    t5 = trajectory(r5, 2, date(2026, 10, 1))
    t6 = trajectory(r6, 1, date(2026, 11, 20), Outcome.REGULAR_SPORT, date(2026, 11, 29))
    for day in (12, 19, 26):
        attend(t1, date(2026, 10, day), Attendance.PRESENT)
    attend(t1, date(2026, 11, 2), Attendance.EXCUSED)
    attend(t1, date(2026, 12, 2), Attendance.PRESENT)  # after the period
    attend(t2, date(2026, 10, 30), Attendance.PRESENT)
    attend(t2, date(2026, 11, 3), Attendance.ABSENT)
    attend(t5, date(2026, 10, 1), Attendance.PRESENT)
    attend(t5, date(2026, 10, 8), Attendance.PRESENT)
    score(t1, Moment.INTAKE, 30, "high")
    score(t1, Moment.END, 20, "moderate")
    score(t2, Moment.INTAKE, 25, "moderate")
    score(t6, Moment.INTAKE, 28, "high")
    score(t6, Moment.END, 27, "high")
    db.session.flush()
    return programme


def test_percentile_is_the_nearest_rank():
    assert percentile([2, 1, 5, 0.5], 0.9) == 5
    assert percentile([4, 3, 1], 0.9) == 4
    assert percentile(list(range(1, 11)), 0.9) == 9
    assert percentile([], 0.9) is None


def test_referrals_received_by_month_organisation_kind_and_reason(data):
    uptake = programme_uptake(data, START, END)
    assert uptake.received == 5
    assert uptake.by_month == {"2026-10": 2, "2026-11": 3}
    assert uptake.by_organisation_kind == {"gp_practice": 4, "municipality": 1}
    assert uptake.by_organisation["De Duinen"] == 4
    assert uptake.by_reason == {"low_mood": 5, "stress": 5}


def test_the_funnel_and_the_dropout_reasons(data):
    uptake = programme_uptake(data, START, END)
    assert uptake.funnel == {
        "referred": 5,
        "offered": 4,
        "accepted": 3,
        "started": 3,
        "completed": 1,
        "dropped_out": 1,
        "regular_sport": 1,
    }
    assert uptake.dropout_reasons == {"motivation": 1}


def test_waiting_times_median_and_90th_percentile(data):
    uptake = programme_uptake(data, START, END)
    assert (uptake.wait_to_offer.median, uptake.wait_to_offer.p90) == (1.5, 5)
    assert (uptake.wait_to_acceptance.median, uptake.wait_to_acceptance.p90) == (3, 4)
    assert (uptake.wait_to_first_session.median, uptake.wait_to_first_session.p90) == (7, 10)


def test_attendance_places_capacity_and_costs(data):
    uptake = programme_uptake(data, START, END)
    assert uptake.attendance == {"present": 6, "excused": 1, "absent": 1}
    assert uptake.sessions_delivered == 6
    assert uptake.cost_cents == 6 * 4500 == 27000
    assert uptake.cost_per("started") == 9000 and uptake.cost_per("completed") == 27000
    assert uptake.budget_cents == 20 * 12 * 4500
    assert (uptake.active_participants, uptake.funded_places) == (2, 20)
    assert (uptake.capacity_in_use, uptake.capacity) == (4, 13)


def test_outcomes_per_questionnaire(data):
    k10, mhc_sf = programme_uptake(data, START, END).outcomes
    assert (k10.name, k10.pairs, k10.mean_change, k10.improved) == ("K10", 2, -5.5, 1)
    assert k10.bands_before == {"high": 2} and k10.bands_after == {"moderate": 1, "high": 1}
    assert mhc_sf.pairs == 0 and mhc_sf.mean_change is None


def test_an_empty_period_gives_zeros_not_errors(data):
    uptake = programme_uptake(data, date(2025, 1, 1), date(2025, 1, 31))
    assert uptake.received == 0 and set(uptake.funnel.values()) == {0}
    assert uptake.wait_to_offer.median is None and uptake.cost_per("started") is None


def test_waiting_days_per_stage_and_their_bands(data):
    uptake = programme_uptake(data, START, END)
    # Days between Dutch dates: R6's offer 12 hours after its referral is the same day.
    assert uptake.wait_days["offer"] == {2: 1, 1: 1, 5: 1, 0: 1}
    assert uptake.wait_days["session"] == {7: 1, 10: 1, 5: 1}
    assert wait_bands({14: 2, 15: 1, 28: 1, 29: 3, 56: 1, 57: 4}) == [2, 2, 4, 4]


def test_the_fingerprint_changes_with_the_cohort_and_not_with_a_status(db, data):
    before = programme_uptake(data, START, END, live=True).fingerprint
    open_trajectory = db.session.scalars(
        sa.select(Trajectory).where(Trajectory.closed_at.is_(None))
    ).first()
    open_trajectory.outcome = Outcome.COMPLETED
    open_trajectory.closed_at = at(date(2026, 11, 28))
    db.session.flush()
    assert programme_uptake(data, START, END, live=True).fingerprint == before
    # One referral of 10 November swapped for another of that day: the same count per month,
    # another cohort.
    day = at(date(2026, 11, 10))
    r4 = db.session.scalars(sa.select(Referral).where(Referral.submitted_at == day)).one()
    r4.submitted_at = at(date(2026, 8, 10))
    factories.make_referral(programme=data, referrer=r4.referrer).submitted_at = day
    db.session.flush()
    after = programme_uptake(data, START, END, live=True)
    assert after.by_month == {"2026-10": 2, "2026-11": 3}
    assert after.fingerprint != before


def test_every_referring_organisation_has_a_row_also_without_referrals(data):
    """A row that showed only for a count of one or more would tell that its "<5" is not 0."""
    uptake = programme_uptake(data, date(2025, 1, 1), date(2025, 1, 31))
    assert uptake.by_organisation == {"De Duinen": 0, data.funder.name: 0}
    assert uptake.by_organisation_kind == {"gp_practice": 0, "municipality": 0}
