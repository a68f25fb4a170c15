"""The therapist changes one participant's plan: repeat a week, step back, or edit a week.

The plan keeps its history; every change has a reason and an audit row.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from referrals.models import AuditAction, AuditEvent, Outcome, utcnow
from referrals.services.trajectories import plan_from_json
from tests.helpers import text
from tests.training_setup import make_practice


@pytest.fixture
def participant(db):
    practice = make_practice(participants=1)
    return practice, practice.trajectories[0]


def plan_of(db, trajectory):
    db.session.refresh(trajectory)
    return plan_from_json(trajectory.plan)


def change(client, trajectory, **data):
    return client.post(f"/trajectories/{trajectory.id}/plan", data=data)


def test_the_plan_section_offers_the_change_form(client, db, login_as, participant):
    practice, trajectory = participant
    login_as(user=practice.user)
    page = text(client.get(f"/trajectories/{trajectory.id}"))
    assert f'action="/trajectories/{trajectory.id}/plan#plan-change"' in page
    assert "Deze week herhalen (het was te zwaar)" in page
    assert "Wijzigingen in het schema" not in page  # no history yet


def test_repeating_a_week_shows_in_the_table_and_history(client, db, login_as, participant):
    practice, trajectory = participant
    login_as(user=practice.user)
    before = plan_of(db, trajectory)
    response = change(client, trajectory, week_number="2", action="repeat", reason="Te zwaar")
    assert response.status_code == 302
    after = plan_of(db, trajectory)
    assert after.week(3).session == before.week(2).session
    assert len(after.weeks) == len(before.weeks) and len(after.history) == 1
    page = text(client.get(f"/trajectories/{trajectory.id}"))
    assert "Wijzigingen in het schema" in page and "Week herhaald" in page
    assert "Te zwaar" in page
    update = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == AuditAction.UPDATE, AuditEvent.detail.like("plan change%")
        )
    ).one()
    assert update.participant_id == trajectory.referral.participant_id


def test_stepping_back_and_editing_keep_the_whole_history(client, db, login_as, participant):
    practice, trajectory = participant
    login_as(user=practice.user)
    before = plan_of(db, trajectory)
    assert (
        change(client, trajectory, week_number="3", action="step_back", reason="Kuit").status_code
        == 302
    )
    stepped = plan_of(db, trajectory)
    assert stepped.week(3).session.total_run_min < before.week(3).session.total_run_min

    data = {"week_number": "4", "action": "edit", "run_min": "3", "walk_min": "2", "repeats": "5"}
    assert change(client, trajectory, **data, reason="Vakantie").status_code == 302
    edited = plan_of(db, trajectory)
    assert (edited.week(4).session.run_min, edited.week(4).session.repeats) == (3, 5)
    assert [c.kind for c in edited.history] == ["step_back", "edit"]
    page = text(client.get(f"/trajectories/{trajectory.id}"))
    assert "Stap terug" in page and "Week aangepast" in page
    assert "5 × (3 min hardlopen, 2 min wandelen)" in page
    assert "Kuit" in page and "Vakantie" in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {
                "week_number": "4",
                "action": "edit",
                "run_min": "10",
                "walk_min": "2",
                "repeats": "4",
            },
            "run_min",
            "Een training duurt in totaal 20 tot 45 minuten; deze duurt 58.",
        ),
        (
            {
                "week_number": "4",
                "action": "edit",
                "run_min": "15",
                "walk_min": "0",
                "repeats": "2",
            },
            "repeats",
            "Hardlopen zonder wandelpauzes is één blok",
        ),
        (
            {"week_number": "4", "action": "edit", "run_min": "", "walk_min": "2", "repeats": "4"},
            "run_min",
            "Vul minuten hardlopen in van 1 tot 60.",
        ),
        ({"week_number": "12", "action": "repeat"}, "action", "De laatste week kan niet"),
        ({"week_number": "1", "action": "step_back"}, "action", "al op de eerste stap"),
        ({"week_number": "40", "action": "repeat"}, "week_number", None),
        ({"week_number": "2", "action": "jump"}, "action", None),
        ({"week_number": "2", "action": "repeat", "reason": "  "}, "reason", "Geef aan waarom"),
    ],
)
def test_a_bad_change_is_explained_and_nothing_changes(
    client, db, login_as, participant, data, field, message
):
    practice, trajectory = participant
    login_as(user=practice.user)
    before = trajectory.plan
    response = change(client, trajectory, **{"reason": "Knie deed pijn", **data})
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    if message:
        assert message in page
    if "reason" not in data:
        assert "Knie deed pijn" in page
    db.session.refresh(trajectory)
    assert trajectory.plan == before


def test_no_changes_on_a_closed_trajectory_or_before_the_intake(client, db, login_as, participant):
    practice, closed = participant
    no_intake = practice.participant(intake=False)
    closed.closed_at, closed.outcome = utcnow(), Outcome.COMPLETED
    db.session.commit()
    before = closed.plan
    login_as(user=practice.user)
    for trajectory in (closed, no_intake):
        response = change(client, trajectory, week_number="2", action="repeat", reason="x")
        assert response.status_code == 302
        assert "Het schema van dit traject kan niet veranderen." in text(
            client.get(response.headers["Location"])
        )
    db.session.refresh(closed)
    db.session.refresh(no_intake)
    assert closed.plan == before and no_intake.plan is None


def test_another_therapist_cannot_change_the_plan(app, db, login_as, participant):
    _practice, trajectory = participant
    stranger = app.test_client()
    login_as(user=make_practice().user, into=stranger)
    before = trajectory.plan
    response = stranger.post(
        f"/trajectories/{trajectory.id}/plan",
        data={"week_number": "2", "action": "repeat", "reason": "x"},
    )
    assert response.status_code == 404
    db.session.refresh(trajectory)
    assert trajectory.plan == before
