"""The dashboard's monthly summary: the triggers mark every change, the worker counts marked
months again, and the dashboard's figures from the summary always equal those counted live
from the rows, for any period, also before the worker ran."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from referrals.extensions import db
from referrals.models import (
    Attendance,
    DropoutReason,
    FigureMark,
    Moment,
    Offer,
    OfferState,
    Outcome,
    ProgrammeFigure,
    QuestionnaireResponse,
    Referral,
    ReferralState,
    Role,
    SessionAttendance,
    TrainingSession,
    Trajectory,
)
from referrals.services.uptake import programme_uptake
from referrals.services.uptake.figures import (
    marked_months,
    month_bounds,
    months_of,
    refresh,
)
from tests import factories
from tests.test_uptake import at, data  # noqa: F401 - the hand-built programme (a fixture)

# Every whole month of the data set and periods that cut months: the cohort, the sessions
# and the trajectories that start and close all fall on both sides of their edges.
PERIODS = [
    (date(2026, 9, 1), date(2026, 9, 30)),
    (date(2026, 10, 1), date(2026, 10, 31)),
    (date(2026, 11, 1), date(2026, 11, 30)),
    (date(2026, 12, 1), date(2026, 12, 31)),
    (date(2026, 10, 1), date(2026, 11, 30)),
    (date(2025, 12, 1), date(2026, 12, 31)),
    (date(2026, 10, 5), date(2026, 11, 15)),
    (date(2026, 10, 13), date(2026, 11, 2)),
    (date(2026, 11, 3), date(2026, 12, 2)),
    (date(2026, 9, 25), date(2026, 10, 12)),
    (date(2026, 10, 12), date(2026, 10, 12)),
    (date(2026, 11, 29), date(2026, 12, 1)),
]


def figures(uptake) -> dict:
    values = dataclasses.asdict(uptake)
    for outcome in values["outcomes"]:
        if outcome["mean_change"] is not None:  # sums added in another order
            outcome["mean_change"] = round(outcome["mean_change"], 9)
    return values


def assert_summary_equals_live(programme, periods=PERIODS) -> None:
    for start, end in periods:
        summary = figures(programme_uptake(programme, start, end))
        live = figures(programme_uptake(programme, start, end, live=True))
        assert summary == live, (start, end)


def test_the_summary_gives_the_live_figures_for_every_period(data):  # noqa: F811
    assert marked_months(data.id)  # the rows were just written: the triggers marked them
    assert refresh(data) >= 4
    assert marked_months(data.id) == set()
    assert db.session.scalar(
        sa.select(sa.func.count()).where(ProgrammeFigure.programme_id == data.id)
    )
    assert_summary_equals_live(data)
    november = programme_uptake(data, date(2026, 11, 1), date(2026, 11, 30))
    assert november.received == 3 and november.active_participants == 2


def test_the_dashboard_reads_the_summary_and_counts_marked_months_from_the_rows(data):  # noqa: F811
    refresh(data)
    october = (date(2026, 10, 1), date(2026, 10, 31))
    # A wrong count in the summary shows: the month is read from it, not from the rows ...
    db.session.execute(
        sa.update(ProgrammeFigure)
        .where(
            ProgrammeFigure.programme_id == data.id,
            ProgrammeFigure.month == "2026-10",
            ProgrammeFigure.figure == "month",
        )
        .values(count=99)
    )
    assert programme_uptake(data, *october).received == 99
    # ... until a change in that month marks it: then it is counted live, exact again.
    r1 = db.session.scalars(
        sa.select(Referral).where(Referral.programme_id == data.id).order_by(Referral.id)
    ).first()
    r1.reasons = ["stress"]
    db.session.flush()
    assert "2026-10" in marked_months(data.id)
    assert programme_uptake(data, *october).received == 2
    refresh(data)
    assert marked_months(data.id) == set()
    assert programme_uptake(data, *october).received == 2


def _referrals(programme):
    return db.session.scalars(
        sa.select(Referral).where(Referral.programme_id == programme.id).order_by(Referral.id)
    ).all()


def _change_reasons(programme):
    _referrals(programme)[2].reasons = ["anxiety", "low_mood"]


def _move_submission(programme):
    _referrals(programme)[3].submitted_at = at(date(2026, 12, 1))


def _new_referral(programme):
    gp = _referrals(programme)[0].referrer
    factories.make_referral(programme=programme, referrer=gp).submitted_at = at(date(2026, 11, 20))


def _new_referral_after_midnight(programme):
    # 23:30 UTC on 31 October is 00:30 on 1 November in Amsterdam: the mark's UTC date lies
    # in October, the referral counts in November.
    gp = _referrals(programme)[0].referrer
    referral = factories.make_referral(programme=programme, referrer=gp)
    referral.submitted_at = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)


def _new_offer(programme):
    r4 = _referrals(programme)[3]
    therapist = db.session.scalars(sa.select(Offer)).first().therapist
    db.session.add(
        Offer(
            referral_id=r4.id,
            therapist=therapist,
            offered_at=r4.submitted_at + timedelta(days=3),
            deadline_at=r4.submitted_at + timedelta(days=8),
            state=OfferState.OPEN,
        )
    )


def _close_trajectory(programme):
    t5 = _trajectories(programme)[2]
    t5.outcome, t5.closed_at = Outcome.DROPPED_OUT, at(date(2026, 11, 10))
    t5.dropout_reason = DropoutReason.MOTIVATION


def _bulk_update_attendance(programme):
    db.session.execute(
        sa.update(SessionAttendance)
        .where(
            SessionAttendance.programme_id == programme.id,
            SessionAttendance.attendance == Attendance.ABSENT,
        )
        .values(attendance=Attendance.EXCUSED)
    )


def _delete_attendance(programme):
    row = db.session.scalars(
        sa.select(SessionAttendance)
        .where(SessionAttendance.programme_id == programme.id)
        .order_by(SessionAttendance.held_on)
    ).first()
    db.session.delete(row)


def _new_end_score(programme):
    t2 = _trajectories(programme)[1]
    db.session.add(
        QuestionnaireResponse(
            trajectory=t2,
            instrument="k10",
            moment=Moment.END,
            taken_on=date(2026, 11, 5),
            answers={},
            score=18,
            category="moderate",
            recorded_by=factories.make_user(role=Role.THERAPIST),
        )
    )


def _bulk_delete_scores(programme):
    db.session.execute(
        sa.delete(QuestionnaireResponse).where(QuestionnaireResponse.moment == Moment.END)
    )


def _trajectories(programme):
    return db.session.scalars(
        sa.select(Trajectory).where(Trajectory.programme_id == programme.id).order_by(Trajectory.id)
    ).all()


CHANGES = [
    _change_reasons,
    _move_submission,
    _new_referral,
    _new_referral_after_midnight,
    _new_offer,
    _close_trajectory,
    _bulk_update_attendance,
    _delete_attendance,
    _new_end_score,
    _bulk_delete_scores,
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__.strip("_") for c in CHANGES])
def test_every_kind_of_change_is_marked_and_counted_again(data, change):  # noqa: F811
    refresh(data)
    before = figures(programme_uptake(data, date(2026, 9, 1), date(2026, 12, 31), live=True))
    change(data)
    db.session.flush()
    assert marked_months(data.id), "the change left no mark"
    # Before the worker ran, and after: the dashboard equals the rows.
    assert_summary_equals_live(data)
    refresh(data)
    assert marked_months(data.id) == set()
    assert_summary_equals_live(data)
    after = figures(programme_uptake(data, date(2026, 9, 1), date(2026, 12, 31)))
    assert after != before  # the change changed a figure


def test_a_state_change_marks_nothing(data):  # noqa: F811
    refresh(data)
    _referrals(data)[3].state = ReferralState.OFFERED
    db.session.flush()
    assert marked_months(data.id) == set()


def test_the_worker_command_counts_every_marked_programme(app, data):  # noqa: F811
    other = factories.make_referral()
    db.session.commit()
    assert marked_months(other.programme_id)
    result = app.test_cli_runner().invoke(args=["refresh-figures"])
    assert result.exit_code == 0, result.output
    assert "Programmes refreshed: 2" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FigureMark)) == 0
    assert_summary_equals_live(data)


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_keep_summary_and_live_equal(db, seed):
    """Random referrals, offers, acceptances, sessions, scores and closings over fourteen
    months, with the worker running at random moments: after every step, random periods (and
    every whole month) give the same figures from the summary as from the rows."""
    rng = random.Random(seed)
    world = factories.make_world(social_team=True, therapist=False)
    programme = world.programme
    programme.questionnaires = ["k10"]
    therapist = factories.make_therapist(programmes=[programme])
    user = factories.make_user(role=Role.THERAPIST)
    first_day = date(2025, 11, 1)

    def some_day(after: date = first_day) -> date:
        return after + timedelta(days=rng.randrange(0, max(1, (date(2026, 12, 31) - after).days)))

    def moment(day: date):
        # Hours across the whole UTC day: 22:00 and 23:00 fall on the next Dutch day.
        return at(day, rng.choice([0, 6, 12, 21, 22, 23]))

    referrals, trajectories = [], []
    for step in range(40):
        action = rng.choice(["refer", "refer", "offer", "accept", "attend", "score", "close"])
        if action == "refer" or not referrals:
            r = factories.make_referral(
                programme=programme, referrer=rng.choice([world.gp, world.social_worker])
            )
            r.submitted_at = moment(some_day())
            r.reasons = rng.sample(["stress", "low_mood", "anxiety", "burnout"], rng.randint(1, 2))
            referrals.append(r)
        elif action == "offer":
            r = rng.choice(referrals)
            offered = r.submitted_at + timedelta(hours=rng.randrange(1, 400))
            db.session.add(
                Offer(
                    referral_id=r.id,
                    therapist=therapist,
                    offered_at=offered,
                    deadline_at=offered + timedelta(days=5),
                    state=OfferState.OPEN,
                )
            )
        elif action == "accept":
            free = [r for r in referrals if all(t.referral_id != r.id for t in trajectories)]
            if free:
                r = rng.choice(free)
                t = Trajectory(
                    referral=r,
                    therapist=therapist,
                    started_at=r.submitted_at + timedelta(hours=rng.randrange(2, 900)),
                )
                db.session.add(t)
                trajectories.append(t)
        elif action == "attend" and trajectories:
            t = rng.choice(trajectories)
            day = t.started_at.date() + timedelta(days=rng.randrange(0, 60))
            session = TrainingSession(therapist=therapist, held_on=day, logged_by=user)
            status = rng.choice(list(Attendance))
            db.session.add(
                SessionAttendance(
                    session=session,
                    held_on=day,
                    trajectory=t,
                    attendance=status,
                    done_run_min=10 if status is Attendance.PRESENT else None,
                    done_total_min=30 if status is Attendance.PRESENT else None,
                )
            )
            if t.first_session_on is None or day < t.first_session_on:
                t.first_session_on = day
        elif action == "score" and trajectories:
            t = rng.choice(trajectories)
            for when in (Moment.INTAKE, Moment.END):
                exists = db.session.scalar(
                    sa.select(QuestionnaireResponse.id).where(
                        QuestionnaireResponse.trajectory_id == t.id,
                        QuestionnaireResponse.moment == when,
                    )
                )
                if exists is None:
                    value = rng.randint(10, 50)
                    db.session.add(
                        QuestionnaireResponse(
                            trajectory=t,
                            instrument="k10",
                            moment=when,
                            taken_on=date(2026, 6, 1),
                            answers={},
                            score=value,
                            category="low" if value < 16 else "moderate" if value < 30 else "high",
                            recorded_by=user,
                        )
                    )
                    break
        elif action == "close":
            open_ = [t for t in trajectories if t.closed_at is None]
            if open_:
                t = rng.choice(open_)
                t.outcome = rng.choice(list(Outcome))
                t.closed_at = t.started_at + timedelta(hours=rng.randrange(24, 3000))
                if t.outcome is Outcome.DROPPED_OUT:
                    t.dropout_reason = DropoutReason.MOTIVATION
        db.session.flush()
        if rng.random() < 0.3:
            refresh(programme)
        if step % 8 == 7:
            periods = [month_bounds(m) for m in months_of(first_day, date(2026, 12, 31))]
            for _ in range(6):
                start = some_day()
                periods.append((start, some_day(start)))
            assert_summary_equals_live(programme, periods)
    refresh(programme)
    assert_summary_equals_live(programme, [(first_day, date(2026, 12, 31))])


@pytest.fixture(scope="module")
def committing_app(databases):
    """A database of its own, with real commits from several connections at once."""
    from flask_migrate import upgrade

    from tests.conftest import make_app

    app = make_app(databases.new("figures"))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_change_still_open_while_the_worker_counts_keeps_its_mark(committing_app):
    """The worker deletes the marks it saw and counts; a writer whose transaction is open
    meanwhile (its mark not yet visible) commits after it: its mark is still there, so the
    month is counted live until the next round, and then from the summary: never stale."""
    import threading

    from referrals.models import Programme

    app = committing_app
    with app.test_request_context():
        world = factories.make_world(therapist=False)
        factories.make_referral(programme=world.programme, referrer=world.gp)
        db.session.commit()
        programme_id, gp_id = world.programme.id, world.gp.id
        refresh(world.programme)
        db.session.commit()
        db.session.remove()
    written, counted = threading.Event(), threading.Event()
    failures = []

    def writer():
        with app.test_request_context():
            try:
                from referrals.models import User

                programme = db.session.get(Programme, programme_id)
                factories.make_referral(programme=programme, referrer=db.session.get(User, gp_id))
                db.session.flush()  # the trigger's mark, not yet committed
                written.set()
                counted.wait(timeout=2)  # on SQLite the worker waits for this commit instead
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(error)
            finally:
                db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    assert written.wait(timeout=10)
    with app.test_request_context():
        refresh(db.session.get(Programme, programme_id))
        db.session.commit()
        db.session.remove()
    counted.set()
    thread.join(timeout=30)
    assert not failures
    from referrals.models import local_today

    today = local_today()
    with app.test_request_context():
        programme = db.session.get(Programme, programme_id)
        assert programme_uptake(programme, today, today).received == 2
        assert_summary_equals_live(programme, [(today.replace(day=1), today)])
        refresh(programme)
        db.session.commit()
        assert marked_months(programme_id) == set()
        assert programme_uptake(programme, today.replace(day=1), today).received == 2
        db.session.remove()


def test_two_workers_at_once_count_each_month_once(committing_app):
    import threading

    from referrals.models import Programme, local_today

    app = committing_app
    with app.test_request_context():
        world = factories.make_world(therapist=False)
        for _ in range(3):
            factories.make_referral(programme=world.programme, referrer=world.gp)
        db.session.commit()
        programme_id = world.programme.id
        db.session.remove()
    barrier, errors = threading.Barrier(2), []

    def worker():
        barrier.wait(timeout=10)
        with app.test_request_context():
            try:
                refresh(db.session.get(Programme, programme_id))
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    today = local_today()
    with app.test_request_context():
        programme = db.session.get(Programme, programme_id)
        assert marked_months(programme_id) == set()
        assert programme_uptake(programme, today.replace(day=1), today).received == 3
        db.session.remove()
