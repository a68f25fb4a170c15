"""The follow-up: the programme's questionnaires again some months after closing, regular sport
at that moment, and the funder figures from intake to end and from intake to follow-up.

The funder data set: a programme with a follow-up 3 months after closing and the K10. Six
referrals received in May 2026, each accepted, with a K10 at intake, closed in June 2026 (due
for the follow-up since the end of September; the clock stands at 7 December 2026):

    trajectory  intake      end         follow-up      sport at closing  at follow-up
    T1          32 high     20 moderate 14 low         running club      running club
    T2          30 high     24 moderate 26 moderate    -                 none
    T3          28 moderate 18 moderate 15 low         start to run      start to run
    T4          25 moderate 12 low      12 low         -                 -
    T5          34 high     -           -              -                 -
    T6          20 moderate 19 moderate -              -                 -

Intake to follow-up: 4 measured (T1-T4) of 6 due, 2 lost (33%); changes -18, -4, -13, -13:
improved clearly (5 points or more, lower is better) 3 of 4. Bands at intake of the four: high
2, moderate 2; at the follow-up: low 3, moderate 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from referrals.models import (
    NO_SPORT,
    AuditAction,
    AuditEvent,
    Moment,
    Outcome,
    QuestionnaireResponse,
    RegularSport,
    Role,
    Trajectory,
    local_today,
)
from referrals.services import ServiceError
from referrals.services.closing import close_trajectory
from referrals.services.referrals.offers import accept_offer, offer_referral
from referrals.services.trajectories import outcomes, record_intake
from referrals.services.uptake import figures, programme_uptake
from referrals.services.uptake.programme_report import generate_programme_report
from tests import factories
from tests.test_uptake_suppression import page_tables, pdf_lines

K10_ANSWERS = {str(n): 3 for n in range(1, 11)}  # 30: high


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# --- entering the follow-up ----------------------------------------------------------------


@pytest.fixture
def closed(db):
    """A closed trajectory of a programme with a follow-up 3 months after closing."""
    world = factories.make_world()
    world.programme.questionnaires = ["k10"]
    world.programme.follow_up_months = 3
    referral = factories.make_referral(programme=world.programme, referrer=world.gp)
    accept_offer(
        offer_referral(referral, world.therapist, actor=world.coordinator),
        actor=world.therapist_user,
    )
    trajectory = db.session.scalars(
        sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
    ).one()
    record_intake(
        trajectory,
        actor=world.therapist_user,
        intake_on=local_today() - timedelta(days=80),
        can_walk_min=40,
        can_run_min=1,
        remarks="",
        template="standard",
    )
    close_trajectory(
        trajectory,
        actor=world.therapist_user,
        outcome=Outcome.DROPPED_OUT,
        dropout_reason="motivation",
    )
    db.session.flush()
    world.trajectory = trajectory
    return world


def test_the_follow_up_is_entered_after_closing_and_only_then(db, closed):
    trajectory, user = closed.trajectory, closed.therapist_user
    response = outcomes.record_response(
        trajectory,
        instrument_key="k10",
        moment=Moment.FOLLOW_UP,
        taken_on=local_today(),
        answers=K10_ANSWERS,
        actor=user,
    )
    assert (response.moment, response.score, response.category) == (Moment.FOLLOW_UP, 30, "high")
    # The moments of the trajectory itself stay closed.
    with pytest.raises(ServiceError, match="gesloten"):
        outcomes.record_response(
            trajectory,
            instrument_key="k10",
            moment=Moment.END,
            taken_on=local_today(),
            answers=K10_ANSWERS,
            actor=user,
        )
    # Not dated before the closing.
    with pytest.raises(ServiceError) as refused:
        outcomes.record_response(
            trajectory,
            instrument_key="k10",
            moment=Moment.FOLLOW_UP,
            taken_on=local_today() - timedelta(days=3),
            answers=K10_ANSWERS,
            actor=user,
        )
    assert "voor de afsluiting" in refused.value.errors["taken_on"]
    # Not for an open trajectory, nor in a programme without a follow-up.
    trajectory.closed_at, trajectory.outcome = None, None
    assert "na de afsluiting" in outcomes.entry_refusal(trajectory, Moment.FOLLOW_UP)
    closed.programme.follow_up_months = None
    assert "geen nameting" in outcomes.entry_refusal(trajectory, Moment.FOLLOW_UP)


def test_the_follow_up_is_due_the_programmes_months_after_the_dutch_day_of_closing(closed):
    trajectory = closed.trajectory
    trajectory.closed_at = datetime(2026, 8, 30, 23, 30, tzinfo=UTC)  # 31 August in Amsterdam
    assert outcomes.follow_up_due_on(trajectory) == date(2026, 11, 30)  # no 31 November
    closed.programme.follow_up_months = 12
    assert outcomes.follow_up_due_on(trajectory) == date(2027, 8, 31)


def test_the_trajectory_page_offers_only_the_follow_up_once_closed(client, login_as, closed):
    login_as(user=closed.therapist_user)
    page = client.get(f"/trajectories/{closed.trajectory.id}").get_data(as_text=True)
    links = {
        moment.value: f"/questionnaires/{moment.value}/k10" in page
        for moment in (Moment.INTAKE, Moment.MIDWAY, Moment.END, Moment.FOLLOW_UP)
    }
    assert links == {"intake": False, "midway": False, "end": False, "follow": True}
    assert "te doen vanaf" in page
    form = client.get(f"/trajectories/{closed.trajectory.id}/questionnaires/follow/k10")
    assert form.status_code == 200


def test_regular_sport_at_the_follow_up_is_saved_audited_and_checked(db, client, login_as, closed):
    login_as(user=closed.therapist_user)
    url = f"/trajectories/{closed.trajectory.id}/follow-up-sport"
    assert client.get(url).status_code == 200
    assert client.post(url, data={"sport": "start_to_run"}).status_code == 302
    db.session.refresh(closed.trajectory)
    assert closed.trajectory.sport_at_follow_up == "start_to_run"
    row = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.detail == "sport at the follow-up")
    ).one()
    assert row.action is AuditAction.UPDATE
    assert row.participant_id == closed.trajectory.referral.participant_id
    page = client.get(f"/trajectories/{closed.trajectory.id}").get_data(as_text=True)
    assert "Een Start to Run-groep" in page.split('id="follow-up"')[1][:400]
    # A choice that is not in the list: the message next to the field, nothing saved.
    response = client.post(url, data={"sport": "cycling"})
    assert response.status_code == 200
    assert 'id="sport-error"' in response.get_data(as_text=True)
    db.session.refresh(closed.trajectory)
    assert closed.trajectory.sport_at_follow_up == "start_to_run"
    response = client.post(url, data={"sport": ""})
    assert response.status_code == 200 and 'id="sport-error"' in response.get_data(as_text=True)


def test_another_therapist_cannot_enter_the_follow_up(client, login_as, closed):
    other = factories.make_user(role=Role.THERAPIST)
    factories.make_therapist(user=other, programmes=[closed.programme])
    login_as(user=other)
    url = f"/trajectories/{closed.trajectory.id}/follow-up-sport"
    assert client.post(url, data={"sport": "other"}).status_code == 404
    assert client.get(url).status_code == 404
    assert (
        client.get(f"/trajectories/{closed.trajectory.id}/questionnaires/follow/k10").status_code
        == 404
    )


# --- the funder figures --------------------------------------------------------------------

ROWS = [
    # intake, end, follow-up, outcome, sport at closing, sport at follow-up
    ((32, "high"), (20, "moderate"), (14, "low"), "regular_sport", "running_club", "running_club"),
    ((30, "high"), (24, "moderate"), (26, "moderate"), "completed", None, NO_SPORT),
    (
        (28, "moderate"),
        (18, "moderate"),
        (15, "low"),
        "regular_sport",
        "start_to_run",
        "start_to_run",
    ),
    ((25, "moderate"), (12, "low"), (12, "low"), "completed", None, None),
    ((34, "high"), None, None, "dropped_out", None, None),
    ((20, "moderate"), (19, "moderate"), None, "completed", None, None),
]


@pytest.fixture
def followed(db, reporting_today):
    world = factories.make_world()
    programme = world.programme
    programme.starts_on = date(2026, 1, 1)
    programme.questionnaires = ["k10"]
    programme.follow_up_months = 3
    recorder = factories.make_user(role=Role.THERAPIST)
    for number, (intake, end, later, outcome, sport, sport_later) in enumerate(ROWS):
        referral = factories.make_referral(programme=programme, referrer=world.gp)
        referral.submitted_at = at(date(2026, 5, 4 + number))
        trajectory = Trajectory(
            referral=referral,
            therapist=world.therapist,
            started_at=at(date(2026, 5, 10)),
            first_session_on=date(2026, 5, 12),
            outcome=Outcome(outcome),
            dropout_reason="motivation" if outcome == "dropped_out" else None,
            regular_sport=RegularSport(sport) if sport else None,
            closed_at=at(date(2026, 6, 20)),
            sport_at_follow_up=sport_later,
        )
        db.session.add(trajectory)
        for moment, measured in (
            (Moment.INTAKE, intake),
            (Moment.END, end),
            (Moment.FOLLOW_UP, later),
        ):
            if measured is None:
                continue
            db.session.add(
                QuestionnaireResponse(
                    trajectory=trajectory,
                    instrument="k10",
                    moment=moment,
                    taken_on=date(2026, 9, 25) if moment is Moment.FOLLOW_UP else date(2026, 6, 1),
                    answers={},
                    score=measured[0],
                    category=measured[1],
                    recorded_by=recorder,
                )
            )
    db.session.flush()
    return world


def test_intake_to_follow_up_worked_out_by_hand(followed):
    uptake = programme_uptake(followed.programme, date(2026, 5, 1), date(2026, 5, 31))
    (k10,) = uptake.follow_up_outcomes
    assert (k10.pairs, k10.mean_change, k10.improved) == (4, -12.0, 3)
    assert k10.bands_before == {"high": 2, "moderate": 2}
    assert k10.bands_after == {"low": 3, "moderate": 1}
    assert (uptake.follow_up_due, uptake.follow_up_measured) == (6, 4)
    assert uptake.sport_at_closing == {"running_club": 1, "start_to_run": 1}
    assert uptake.sport_at_follow_up == {"running_club": 1, "start_to_run": 1, "none": 1}
    (end,) = uptake.outcomes
    assert (end.pairs, end.improved) == (5, 4)  # intake to end: T1-T4 and T6 (-1)


def test_the_summary_gives_the_live_follow_up_figures(db, followed):
    figures.recount_all()
    summary, _active = figures.summary_tally(
        followed.programme, date(2026, 5, 1), date(2026, 5, 31)
    )
    live = figures.live_tally(followed.programme, [(date(2026, 5, 1), date(2026, 5, 31))])
    for figure in (
        "follow_outcome",
        "follow_improved",
        "cohort_closed",
        "follow_measured",
        "sport_closing",
        "sport_follow_up",
    ):
        assert summary.of(figure) == live.of(figure), figure
        assert live.of(figure), figure
    # A later change of the sport at the follow-up marks the month to count again.
    trajectory = db.session.scalars(
        sa.select(Trajectory).where(Trajectory.sport_at_follow_up.is_(None))
    ).first()
    trajectory.sport_at_follow_up = "other"
    db.session.flush()
    assert "2026-05" in figures.marked_months(followed.programme.id)


def test_nothing_is_due_before_the_months_have_passed(followed, monkeypatch):
    from referrals.models import base

    monkeypatch.setattr(base, "local_today", lambda: date(2026, 9, 29))  # June + 3 = September
    early = programme_uptake(followed.programme, date(2026, 5, 1), date(2026, 5, 31))
    # Nobody due yet, so nobody counted as measured or lost among them (four follow-ups were
    # entered early, on 25 September).
    assert (early.follow_up_due, early.follow_up_measured) == (0, 0)
    monkeypatch.setattr(base, "local_today", lambda: date(2026, 10, 1))
    due = programme_uptake(followed.programme, date(2026, 5, 1), date(2026, 5, 31))
    assert (due.follow_up_due, due.follow_up_measured) == (6, 4)


def test_the_coordinator_sees_the_lasting_effect(client, login_as, followed):
    login_as(user=followed.coordinator)
    page = client.get(f"/uptake/{followed.programme.id}", query_string={"period": "2026-05"})
    tables = page_tables(page.get_data(as_text=True))
    outcome = tables["Uitkomsten van intake tot nameting"][0]
    assert outcome == ["K10 (lager is beter)", "4", "-12,0", "3", "75%"]
    lost = {row[0]: row[1] for row in tables["Gemeten en niet bereikt bij de nameting"]}
    assert lost == {
        "Lang genoeg geleden afgesloten voor de nameting (3 maanden)": "6",
        "Gemeten bij de nameting": "4",
        "Niet bereikt voor de nameting": "2",
        "Aandeel niet bereikt voor de nameting": "33%",
    }
    sport = {row[0]: row[1:] for row in tables["Geregeld sporten na het traject"]}
    assert sport["Een hardloopvereniging"] == ["1", "1"]
    assert sport["Niet geregeld"] == ["–", "1"]


def test_the_report_has_a_lasting_effect_page_with_the_follow_up_scores(app, followed):
    with app.test_request_context():
        report = generate_programme_report(
            followed.programme, date(2026, 5, 1), date(2026, 5, 31), actor=None
        )
    lines = pdf_lines(report.pdf)
    assert "Blijvend effect" in lines
    joined = " ".join(lines)
    # Rounded, as for funders: 4 measured and 3 improved show as 5 or "<5".
    assert "Uitkomsten van intake tot nameting" in joined
    row = next(line for line in lines if line.startswith("K10 (lager is beter)") and "%" in line)
    cells = row.removeprefix("K10 (lager is beter)").split()
    assert cells[0] in ("<5", "5") and cells[1] in ("<5", "5")
    assert "Lang genoeg geleden afgesloten voor de nameting (3 maanden)" in joined


def test_a_programme_without_follow_up_says_so(app, followed):
    followed.programme.follow_up_months = None
    with app.test_request_context(), force_locale("en"):
        uptake = programme_uptake(followed.programme, date(2026, 5, 1), date(2026, 5, 31))
        from referrals.services.uptake.uptake_view import build

        section = build(uptake).sections[-1]
    assert section.title == "Lasting effect"
    assert section.note == "This programme asks for no follow-up questionnaire after closing."
    assert [t.title for t in section.tables] == ["Regular sport after the trajectory"]
