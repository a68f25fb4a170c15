"""A trajectory starts when a therapist accepts; the intake makes the plan; the plan prints."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from referrals.models import AuditAction, AuditEvent, Role, Trajectory, local_today
from referrals.services.referrals import offers
from tests import factories
from tests.helpers import text


@pytest.fixture
def accepted(db):
    world = factories.make_world(therapist_name="Eva Smit")
    referral = factories.make_referral(
        programme=world.programme, referrer=world.gp, first_name="Femke"
    )
    offer = offers.offer_referral(referral, world.therapist, actor=world.coordinator)
    offers.accept_offer(offer, actor=world.therapist_user)
    db.session.commit()
    trajectory = db.session.scalars(sa.select(Trajectory)).one()
    return trajectory, world.therapist_user


INTAKE = {
    "intake_on": local_today().isoformat(),
    "can_walk_min": "40",
    "can_run_min": "1",
    "template": "standard",
    "remarks": "Knie soms gevoelig",
}


def test_accepting_starts_a_trajectory(db, accepted):
    trajectory, user = accepted
    assert trajectory.therapist.user == user and trajectory.plan is None
    assert trajectory.referral.participant.first_name == "Femke"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"intake_on": ""}, "intake_on"),
        ({"intake_on": (local_today() + timedelta(days=2)).isoformat()}, "intake_on"),
        ({"can_walk_min": "veel"}, "can_walk_min"),
        ({"can_walk_min": "-5"}, "can_walk_min"),
        ({"can_run_min": ""}, "can_run_min"),
        ({"can_run_min": "500"}, "can_run_min"),
        ({"template": "marathon"}, "template"),
    ],
)
def test_bad_intake_input_is_explained_and_nothing_is_saved(
    client, db, login_as, accepted, changes, field
):
    trajectory, user = accepted
    login_as(user=user)
    response = client.post(f"/trajectories/{trajectory.id}", data={**INTAKE, **changes})
    page = text(response)
    assert response.status_code == 200
    assert f'id="{field}-error"' in page
    assert "Knie soms gevoelig" in page
    db.session.refresh(trajectory)
    assert trajectory.plan is None and trajectory.intake_on is None


def test_the_intake_makes_a_plan_of_the_programmes_length(client, db, login_as, accepted):
    trajectory, user = accepted
    login_as(user=user)
    response = client.post(f"/trajectories/{trajectory.id}", data=INTAKE)
    assert response.status_code == 302
    db.session.refresh(trajectory)
    assert trajectory.can_walk_min == 40 and trajectory.can_run_min == 1
    weeks = trajectory.plan["weeks"]
    assert len(weeks) == trajectory.referral.programme.trajectory_weeks == 12
    page = text(client.get(f"/trajectories/{trajectory.id}"))
    assert "30 min aaneengesloten hardlopen" in page
    assert "Knie soms gevoelig" in page
    reads = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_type == "trajectories", AuditEvent.action == AuditAction.READ
        )
    ).all()
    assert reads and all(r.participant_id == trajectory.referral.participant_id for r in reads)


def test_the_plan_prints_for_the_participant_and_printing_is_audited(
    client, db, login_as, accepted
):
    trajectory, user = accepted
    login_as(user=user)
    assert client.get(f"/trajectories/{trajectory.id}/plan.pdf").status_code == 404  # no plan yet
    client.post(f"/trajectories/{trajectory.id}", data=INTAKE)
    response = client.get(f"/trajectories/{trajectory.id}/plan.pdf")
    assert response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    content = "\n".join(page.extract_text() for page in reader.pages)
    assert "Femke" in content and "Eva Smit" in content
    assert trajectory.referral.participant.last_name not in content
    printed = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == AuditAction.PRINT)
    ).one()
    assert printed.participant_id == trajectory.referral.participant_id


def test_another_therapist_cannot_reach_the_trajectory(app, db, login_as, accepted):
    trajectory, _ = accepted
    client = app.test_client()
    login_as(user=factories.make_user(role=Role.THERAPIST), into=client)
    assert client.get(f"/trajectories/{trajectory.id}").status_code == 404
    assert client.post(f"/trajectories/{trajectory.id}", data=INTAKE).status_code == 404
    assert client.get(f"/trajectories/{trajectory.id}/plan.pdf").status_code == 404
    db.session.refresh(trajectory)
    assert trajectory.plan is None


def test_the_inbox_links_the_participant_to_the_trajectory(client, db, login_as, accepted):
    trajectory, user = accepted
    login_as(user=user)
    assert f"/trajectories/{trajectory.id}" in text(client.get("/offers"))
