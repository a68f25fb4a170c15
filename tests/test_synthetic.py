"""The synthetic data set for benchmarks: valid rows in every state, and uptake figures whose
query count does not grow with the programme's size."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from referrals.models import (
    GROUP_MAX_SIZE,
    Offer,
    Programme,
    Referral,
    ReferralState,
    SessionAttendance,
    TrainingGroup,
    Trajectory,
    local_today,
    utcnow,
)
from referrals.services.uptake import programme_uptake
from referrals.synthetic import build


def test_a_small_synthetic_set_is_valid_and_the_figures_scale_in_queries(db, queries):
    built = build(referrals=600, programmes=4, largest=400, seed=1)
    db.session.flush()
    sizes = dict(
        db.session.execute(
            sa.select(Referral.programme_id, sa.func.count()).group_by(Referral.programme_id)
        ).all()
    )
    assert sizes[built.largest_programme_id] == 400
    assert sizes[built.smallest_programme_id] == 100
    assert built.referrals == 600 and built.attendances > 0
    states = set(db.session.scalars(sa.select(Referral.state).distinct()))
    assert {ReferralState.ACTIVE, ReferralState.COMPLETED, ReferralState.DROPPED_OUT} <= states
    # Every trajectory belongs to an accepted, active or closed referral.
    assert not db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Trajectory)
        .join(Trajectory.referral)
        .where(Referral.state.in_([ReferralState.SUBMITTED, ReferralState.OFFERED]))
    )

    # Each therapist has a group of open trajectories, never over its size.
    members = db.session.execute(
        sa.select(
            TrainingGroup.id, sa.func.count(Trajectory.id), sa.func.count(Trajectory.closed_at)
        )
        .join(Trajectory, Trajectory.group_id == TrainingGroup.id)
        .group_by(TrainingGroup.id)
    ).all()
    assert members and all(0 < n <= GROUP_MAX_SIZE and closed == 0 for _, n, closed in members)

    # Nothing lies after now: no offer, acceptance, closing or session in the future.
    now = utcnow() + timedelta(seconds=5)
    for column in (
        Offer.offered_at,
        Offer.responded_at,
        Trajectory.started_at,
        Trajectory.closed_at,
        Referral.submitted_at,
        Referral.closed_at,
    ):
        assert db.session.scalar(sa.select(sa.func.max(column))) <= now, column
    assert db.session.scalar(sa.select(sa.func.max(SessionAttendance.held_on))) <= local_today()

    end = local_today()
    start = end - timedelta(days=730)
    large = db.session.get(Programme, built.largest_programme_id)
    small = db.session.get(Programme, built.smallest_programme_id)
    with queries() as large_log:
        large_uptake = programme_uptake(large, start, end)
    with queries() as small_log:
        small_uptake = programme_uptake(small, start, end)
    assert len(large_log.statements) == len(small_log.statements)
    assert large_uptake.received == 400 and small_uptake.received == 100
    assert large_uptake.funnel["completed"] > 0 and large_uptake.outcomes[0].pairs > 0
    assert large_uptake.wait_to_offer.median is not None
